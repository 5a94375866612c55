"""The primitives and their one-line wrappers (the `lax` layer): operands of one shape and
dtype, no implicit broadcasting or promotion. spmd.numpy builds NumPy's conventions on top."""
from spmd.transforms.lax.elementwise import *  # noqa: F401,F403
from spmd.transforms.lax.elementwise import (abs_p, add_any, complex_,  # noqa: F401
                                             convert_element_type, full, integer_pow, select,
                                             _abs as abs)
from spmd.transforms.lax.clamp import clamp, clamp_p  # noqa: F401
from spmd.transforms.lax.more_elementwise import (bessel_i0e, bessel_i1e, clz, erfc, exp2,  # noqa: F401
                                                  mulhi, reciprocal, reduce_precision, square,
                                                  zeta)
from spmd.transforms.lax.structural import (broadcast, broadcast_in_dim, broadcasted_iota,  # noqa: F401
                                            expand_dims, iota, reshape, squeeze, transpose)
from spmd.transforms.lax.reductions import (reduce_and, reduce_max, reduce_min, reduce_or,  # noqa: F401
                                            reduce_prod, reduce_sum)
from spmd.transforms.lax.dot import dot, dot_general  # noqa: F401
from spmd.transforms.lax.slicing import (concatenate, dynamic_index_in_dim,  # noqa: F401
                                         dynamic_slice, dynamic_slice_in_dim,
                                         dynamic_update_index_in_dim, dynamic_update_slice,
                                         dynamic_update_slice_in_dim, index_in_dim,
                                         pad, rev, slice, slice_in_dim)
from spmd.transforms.lax.cumulative import (cumlogsumexp, cummax, cummin, cumprod,  # noqa: F401
                                            cumsum)
from spmd.transforms.lax.sorting import argsort, sort, sort_key_val  # noqa: F401
from spmd.transforms.lax.top_k import top_k  # noqa: F401
from spmd.transforms.lax.argminmax import argmax, argmin  # noqa: F401
from spmd.transforms.lax.gather_scatter import (GatherDimensionNumbers,  # noqa: F401
                                                GatherScatterMode, ScatterDimensionNumbers, gather,
                                                scatter, scatter_add, scatter_max, scatter_min,
                                                scatter_mul, scatter_sub)
from spmd.transforms.lax.bitcast import bitcast_convert_type  # noqa: F401
from spmd.transforms.lax.control_flow import (cond, fori_loop, map, scan, switch,  # noqa: F401,A004
                                              while_loop)
from spmd.transforms.lax.rng_bit_generator import (RandomAlgorithm,  # noqa: F401
                                                   rng_bit_generator)
from spmd.transforms.lax.convolution import (ConvDimensionNumbers, conv,  # noqa: F401
                                             conv_general_dilated_p,
                                             conv_dimension_numbers, conv_general_dilated,
                                             conv_general_permutations, conv_general_shape_tuple,
                                             conv_shape_tuple, conv_transpose,
                                             conv_transpose_shape_tuple, conv_with_general_padding,
                                             padtype_to_pads)
from spmd.transforms.lax.windowed import (reduce_window, reduce_window_max_p,  # noqa: F401
                                          reduce_window_min_p, reduce_window_p,
                                          reduce_window_shape_tuple, reduce_window_sum_p,
                                          select_and_gather_add_p, select_and_scatter_add_p)
from spmd.transforms.lax.fourier import FftType, fft  # noqa: F401
from spmd.transforms.lax import linalg  # noqa: F401  (jax.lax.linalg)
from spmd.transforms.lax.sharding_constraint import with_sharding_constraint  # noqa: F401,E402
from spmd.transforms.lax.incomplete_gamma import (igamma, igamma_grad_a, igamma_grad_a_p,  # noqa: F401,E402
                                                    igamma_p, igammac, igammac_p)
from spmd.transforms.lax.incomplete_beta import betainc, regularized_incomplete_beta_p  # noqa: F401,E402
