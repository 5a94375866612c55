"""spmd.nn: jax.nn's activation functions, softmax, one_hot, logsumexp, attention, and the
weight initializers (spmd.nn.initializers)."""
from spmd.nn import initializers  # noqa: F401
from spmd.nn._functions import (celu, elu, gelu, hard_sigmoid, hard_silu, hard_swish,  # noqa: F401
                                hard_tanh, leaky_relu, log_sigmoid, log_softmax, logsumexp,
                                one_hot, relu, relu6, selu, sigmoid, silu, soft_sign, softmax,
                                softplus, standardize, swish)
