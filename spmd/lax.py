"""spmd.lax: JAX's `jax.lax`, re-exported from the transforms layer (each name is declared with
its rules in transforms/)."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.lax import *  # noqa: F401,F403
from spmd.transforms.lax import complex_ as complex  # noqa: F401,A004  (lax.complex, as JAX)
from spmd.transforms.stop_gradient import stop_gradient  # noqa: F401
from spmd.transforms.lax.dot import Precision  # noqa: F401
from spmd.scipy._lax_incomplete import (betainc, igamma, igamma_grad_a, igammac,  # noqa: F401
                                        random_gamma_grad)
from spmd.collectives import (all_gather, all_to_all, axis_index, axis_size, pmax,  # noqa: F401
                              pmean, pmin, ppermute, pshuffle, pswapaxes, psum, psum_scatter)

# The transforms layer's own vocabulary, which the star import brings along: how primitives are
# declared (rule registries, dtype kinds, helpers) and names JAX's lax does not have. A program
# sees only JAX's names (tests/spmd/test_jax_names.py checks).
for _name in ("ANY", "BOOL", "COMPLEX", "FLOAT", "INEXACT", "INT", "INTEGRAL", "NUMBER", "UINT",
              "Primitive", "ShapedArray", "Zero", "annotations", "np", "core", "dtypes",
              "batching_rules", "bdim_at_front", "defbroadcasting", "defjvp", "defjvp_with_output",
              "defjvp_zero", "deflinear", "deftranspose_linear", "defvectorized", "instantiate",
              "is_undefined", "jvp_rules", "linear_primitives", "lowering_rules", "transpose_rules",
              "elementwise_aval", "add_any", "add_any_p", "complex_", "round_afz", "round_afz_p",
              "select_p", "argsort", "argminmax", "bitcast", "control_flow", "cumulative",
              "elementwise", "gather_scatter", "reductions", "slicing", "sorting", "structural",
              "more_elementwise", "composite"):
    globals().pop(_name, None)


__getattr__ = _module_getattr("spmd.lax", "jax.lax")
