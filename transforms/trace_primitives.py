"""The primitives that the transformations bind themselves: vmap moves and adds mapped axes
(transpose, broadcast_in_dim), forward and reverse mode make zeros (broadcast_in_dim) and
accumulate tangents and cotangents (add_any).

Only the Primitive objects live here, below jvp.py and batching.py, so that those modules can
bind them without importing the lax layer that sits on top of them. Each primitive's shape rule,
lowering, JVP, transpose and batching rules are declared with its family in lax/structural.py and
lax/elementwise.py, which also export the user-facing wrappers.
"""
from spmd.transforms.core import Primitive

broadcast_in_dim_p = Primitive("broadcast_in_dim")
transpose_p = Primitive("transpose")
# add_any accumulates tangents and cotangents; it is add, kept apart so that programs show
# where accumulation happens.
add_any_p = Primitive("add_any")
