"""Named-axis collectives: each a primitive with its shape rule, lowering to a StableHLO
collective (under pmap), JVP, transpose and batching rule (under vmap with an axis name)."""
from spmd.collectives.psum import (axis_size, pmax, pmean, pmin, psum, pmax_p, pmin_p,  # noqa: F401
                                   psum_p)
from spmd.collectives.gather_scatter import (all_gather, all_gather_p, psum_scatter,  # noqa: F401
                                             psum_scatter_p)
from spmd.collectives.all_to_all import all_to_all, all_to_all_p, pswapaxes  # noqa: F401
from spmd.collectives.ppermute import ppermute, ppermute_p, pshuffle  # noqa: F401
from spmd.collectives.axis_index import axis_index, axis_index_p  # noqa: F401
from spmd.collectives.axes import MeshAxes, ReplicaAxes  # noqa: F401
from spmd.collectives.pcast import pcast, pvary_p  # noqa: F401
from spmd.collectives.pbroadcast import pbroadcast  # noqa: F401
from spmd.collectives.ragged_all_to_all import (ragged_all_to_all,  # noqa: F401
                                                ragged_all_to_all_p)
from spmd.collectives.send_recv import precv, psend  # noqa: F401
