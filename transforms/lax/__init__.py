"""The primitives and their one-line wrappers (the `lax` layer): operands of one shape and
dtype, no implicit broadcasting or promotion. spmd.numpy builds NumPy's conventions on top."""
from transforms.lax.elementwise import *  # noqa: F401,F403
from transforms.lax.elementwise import (abs_p, add_any, complex_, convert_element_type, full,
                                        integer_pow, select, _abs as abs)  # noqa: F401
from transforms.lax.structural import (broadcast, broadcast_in_dim, broadcasted_iota,  # noqa: F401
                                       expand_dims, iota, reshape, squeeze, transpose)
from transforms.lax.reductions import (reduce_and, reduce_max, reduce_min, reduce_or,  # noqa: F401
                                       reduce_prod, reduce_sum)
from transforms.lax.dot import dot, dot_general  # noqa: F401
