"""spmd.lax: JAX's `jax.lax`, re-exported from the transforms layer (each name is declared with
its rules in transforms/)."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.lax import *  # noqa: F401,F403
from spmd.transforms.lax import complex_ as complex  # noqa: F401,A004  (lax.complex, as JAX)
from spmd.transforms.stop_gradient import stop_gradient  # noqa: F401
from spmd.transforms.lax.dot import Precision  # noqa: F401
from spmd.transforms.lax.dot_algorithm import DotAlgorithm, DotAlgorithmPreset  # noqa: F401
from spmd.transforms.lax.accuracy import AccuracyMode, Tolerance  # noqa: F401
from spmd.scipy._lax_incomplete import random_gamma_grad  # noqa: F401
from spmd.collectives import (all_gather, all_to_all, axis_index, axis_size, pbroadcast,  # noqa: F401
                              pcast, pmax, pmean, pmin, ppermute, pshuffle, pswapaxes, psum,
                              psum_scatter)
from spmd.collectives import precv, psend, ragged_all_to_all, ragged_all_to_all_p  # noqa: F401
from spmd.transforms.lax.jax_composites import (RoundingMethod, broadcast_shapes,  # noqa: F401
                                                broadcast_to_rank, collapse, dtype, full_like,
                                                index_take, round)
from spmd.transforms.lax.stacking import stack, stack_p, unstack, unstack_p  # noqa: F401
from spmd.transforms.lax.splitting import split, split_p  # noqa: F401
from spmd.transforms.lax.tiling import tile, tile_p  # noqa: F401
from spmd.transforms.lax.tree_reductions import associative_scan, reduce, reduce_p  # noqa: F401
from spmd.transforms.lax.reductions import reduce_xor, reduce_xor_p  # noqa: F401
from spmd.transforms.lax.scatter_apply import scatter_apply  # noqa: F401
from spmd.transforms.lax.implicit_solves import custom_root  # noqa: F401
from spmd.transforms.lax.linear_solve import custom_linear_solve, linear_solve_p  # noqa: F401
from spmd.transforms.lax.dce_sink import dce_sink, dce_sink_p  # noqa: F401
from spmd.transforms.lax.device_put import device_put_p  # noqa: F401
from spmd.transforms.lax.select_and_scatter import select_and_scatter_p  # noqa: F401
from spmd.transforms.lax.tokens import (after_all, after_all_p, create_token,  # noqa: F401
                                        create_token_p)
from spmd.transforms.optimization_barrier import optimization_barrier, optimization_barrier_p  # noqa: F401
from spmd.transforms.lax.type_aliases import (ConvGeneralDilatedDimensionNumbers,  # noqa: F401
                                              DotDimensionNumbers, PrecisionLike)
from spmd.transforms.lax.jax_composites import (batch_matmul, broadcast_like,  # noqa: F401
                                                empty, shape_as_value)
from spmd.transforms.lax.ragged_dot import (RaggedDotDimensionNumbers, ragged_dot,  # noqa: F401
                                            ragged_dot_general)
from spmd.transforms.lax.approx_top_k import approx_max_k, approx_min_k  # noqa: F401
from spmd.transforms.lax.conv_patches import (conv_general_dilated_local,  # noqa: F401
                                              conv_general_dilated_patches)
from spmd.transforms.lax.named_composite import composite  # noqa: F401
from spmd.transforms.lax.platform_dependent import platform_dependent  # noqa: F401
from spmd.transforms.lax.rng_uniform import rng_uniform, rng_uniform_p  # noqa: F401
from spmd.transforms.lax.select_n import select_n, select_n_p  # noqa: F401
from spmd.transforms.lax.identities import copy_p, stage, stage_p  # noqa: F401

# The primitives JAX's lax exports under these names, for programs that inspect jaxprs or
# register rules (spmd declares them beside their rules, in the files named here)
from spmd.transforms.lax.argminmax import argmax_p, argmin_p  # noqa: F401,E402
from spmd.transforms.lax.more_elementwise import (bessel_i0e_p, bessel_i1e_p, clz_p,  # noqa: F401,E402
                                                  erfc_p, exp2_p, mulhi_p, reduce_precision_p,
                                                  square_p, zeta_p)
from spmd.transforms.lax.bitcast import bitcast_convert_type_p  # noqa: F401,E402
from spmd.transforms.lax.structural import (broadcast_in_dim_p, iota_p, reshape_p,  # noqa: F401,E402
                                            squeeze_p, transpose_p)
from spmd.transforms.lax.slicing import (concatenate_p, dynamic_slice_p,  # noqa: F401,E402
                                         dynamic_update_slice_p, pad_p, rev_p, slice_p)
from spmd.transforms.lax.control_flow import cond_p, scan_p, while_p  # noqa: F401,E402
from spmd.transforms.lax.cumulative import (cumlogsumexp_p, cummax_p, cummin_p,  # noqa: F401,E402
                                            cumprod_p, cumsum_p)
from spmd.transforms.lax.dot import dot_general_p  # noqa: F401,E402
from spmd.transforms.lax.approx_top_k import approx_top_k_p  # noqa: F401,E402
from spmd.transforms.lax.top_k import top_k_p  # noqa: F401,E402
from spmd.transforms.lax.fourier import fft_p  # noqa: F401,E402
from spmd.transforms.lax.gather_scatter import (gather_p, scatter_add_p,  # noqa: F401,E402
                                                scatter_max_p, scatter_min_p, scatter_mul_p,
                                                scatter_p, scatter_sub_p)
from spmd.transforms.lax.reductions import (reduce_and_p, reduce_max_p,  # noqa: F401,E402
                                            reduce_min_p, reduce_or_p, reduce_prod_p,
                                            reduce_sum_p)
from spmd.transforms.lax.rng_bit_generator import rng_bit_generator_p  # noqa: F401,E402
from spmd.transforms.lax.sharding_constraint import sharding_constraint_p  # noqa: F401,E402
from spmd.transforms.lax.sorting import sort_p  # noqa: F401,E402
from spmd.transforms.stop_gradient import stop_gradient_p  # noqa: F401,E402
from spmd.collectives import (all_gather_p, all_to_all_p, axis_index_p,  # noqa: F401,E402
                              pmax_p, pmin_p, ppermute_p, psum_p)

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
              "more_elementwise"):
    globals().pop(_name, None)


__getattr__ = _module_getattr("spmd.lax", "jax.lax")
