"""Named-axis collectives: each a primitive with its shape rule, lowering to a StableHLO
collective (under pmap), JVP, transpose and batching rule (under vmap with an axis name)."""
from collectives.psum import pmax, pmean, pmin, psum, pmax_p, pmin_p, psum_p  # noqa: F401
from collectives.gather_scatter import (all_gather, all_gather_p, psum_scatter,  # noqa: F401
                                        psum_scatter_p)
from collectives.all_to_all import all_to_all, all_to_all_p  # noqa: F401
from collectives.ppermute import ppermute, ppermute_p, pshuffle  # noqa: F401
from collectives.axis_index import axis_index, axis_index_p  # noqa: F401
from collectives.axes import ReplicaAxes  # noqa: F401
