"""spmd.nn: jax.nn's activation functions, softmax, one_hot, logsumexp, attention, the
block-scaled products, and the weight initializers (spmd.nn.initializers)."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.nn import initializers  # noqa: F401
from spmd.nn._attention import dot_product_attention  # noqa: F401
from spmd.nn._scaled import (get_scaled_dot_general_config, scaled_dot_general,  # noqa: F401
                             scaled_matmul)
from spmd.nn._functions import (celu, elu, gelu, glu, hard_sigmoid, hard_silu,  # noqa: F401
                                hard_swish, hard_tanh, identity, leaky_relu, log1mexp,
                                log_sigmoid, log_softmax, logmeanexp, logsumexp, mish, one_hot,
                                relu, relu6, selu, sigmoid, silu, soft_sign, softmax, softplus,
                                sparse_plus, sparse_sigmoid, squareplus, standardize, swish, tanh)


__getattr__ = _module_getattr("spmd.nn", "jax.nn")
