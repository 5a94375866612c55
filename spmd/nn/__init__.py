"""spmd.nn: jax.nn's activation functions, softmax, one_hot, logsumexp."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.nn._functions import (celu, elu, gelu, hard_sigmoid, hard_silu, hard_swish,  # noqa: F401
                                hard_tanh, leaky_relu, log_sigmoid, log_softmax, logsumexp,
                                one_hot, relu, relu6, selu, sigmoid, silu, soft_sign, softmax,
                                softplus, standardize, swish)


__getattr__ = _module_getattr("spmd.nn", "jax.nn")
