"""Which cases of the collective table (tests/collectives/cases.py) cross processes through the
transport's host callbacks, and which site each uses: the attribute its callback carries in the
program text (`spmd_mpi_<site>`), and the MPI call it makes between processes."""
from __future__ import annotations

import collections
import re

SITES = {"psum": "all_reduce", "pmean": "all_reduce", "pmax": "all_reduce",
         "psum_scalar": "all_reduce", "pmin": "all_reduce",
         "all_gather": "all_gather", "all_gather_scalar": "all_gather",
         "all_gather_axis1": "all_gather", "all_gather_tiled": "all_gather",
         "psum_scatter": "psum_scatter", "psum_scatter_tiled": "psum_scatter",
         "all_to_all": "all_to_all", "all_to_all_moved": "all_to_all",
         "all_to_all_tiled": "all_to_all", "pswapaxes": "all_to_all",
         "ppermute_shift": "ppermute", "ppermute_partial": "ppermute", "pshuffle": "ppermute",
         "axis_index": None}
MPI_CALLS = {"all_reduce": "Allreduce", "all_gather": "Allgather",
             "psum_scatter": "Reduce_scatter_block", "all_to_all": "Alltoall",
             "ppermute": "Sendrecv"}
# XLA's own collectives, in the program text
XLA_COLLECTIVE = re.compile(r'"stablehlo\.(all_reduce|all_gather|all_to_all|reduce_scatter|'
                            r'collective_permute)"')


def expected_sites(specs, over_mpi: bool) -> collections.Counter:
    """The callback sites a program of these (case, dtype, groups) specs has: every collective
    over MPI (in axis_index_groups too); without MPI, the whole-axis all-reduces only (reduced
    within the process first)."""
    sites = [(SITES[case.name], groups is None) for case, _, groups in specs]
    return collections.Counter(s for s, whole in sites if s is not None
                               and (over_mpi or whole and s == "all_reduce"))


def sites_in(text: str) -> collections.Counter:
    return collections.Counter(re.findall(r"spmd_mpi_(\w+) = ", text))
