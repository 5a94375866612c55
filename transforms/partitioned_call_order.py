"""At every run of a jit program over a mesh spanning processes: every process runs the same
program, at the same call (issue 14; pmap's check is spmd/pmap_call_order.py, whose program
ids, pairs and messages this one shares through partitioned_jit.cross_process_checks).

XLA's collectives between processes (gloo) are paired by their position in each process's
stream: two programs run in a different order, or a process skipping a call, pair the wrong
collectives. So the program takes one more input, each process's (program id, call count,
-id, -count) on every one of its devices (rows of an (n, 4) array sharded over all the mesh's
axes), and first reduces it with max over the devices: the processes agree iff the result is
(a, b, -a, -b). Every argument waits for that result (an optimization barrier: no resharding
of an argument runs before it), and the user's program runs in the branch of a `cond` taken
only when they agree, so on a mismatch no collective of the user's runs at all and none is
paired wrongly. The program also returns the reduced pair, which the host checks before the
call returns (every process sees the same value, so all raise), and the next call's pair,
kept on the devices for that call (a call sends nothing). No host callback: one in a program
makes XLA's CPU runtime run every execution inside the dispatch, a large cost on small steps.
"""
from __future__ import annotations

import numpy as np

from spmd.transforms import backend, core, lax
from spmd.transforms.array import Array
from spmd.transforms.call_order_program import next_pair, run_when_in_step
from spmd.transforms.core import Jaxpr, ShapedArray
from spmd.transforms.optimization_barrier import optimization_barrier_p
from spmd.transforms.named_sharding import NamedSharding, backend_sharding
from spmd.transforms.partition_spec import PartitionSpec
from spmd.transforms.staging import closed_as_open, trace_to_jaxpr

_REDUCED = ShapedArray((4,), np.int32)


class CallOrderCheck:
    """The check of one program over `mesh`: `program(jaxpr)` is the checked program (the pair
    first; after the results, the reduced pair and the next pair), `first_input()` the pair
    buffer of this call, and `finish(outs)` checks the reduced pair and returns the user's
    results. `checks` (partitioned_jit.CrossProcessChecks) gives the ids, pairs and errors."""

    def __init__(self, mesh, checks):
        self.mesh, self.checks = mesh, checks
        self.aval = ShapedArray((len(mesh.flat_devices), 4), np.int32)
        self.sharding = NamedSharding(mesh, PartitionSpec(tuple(mesh.axis_names)))
        self.out_shardings = [NamedSharding(mesh), self.sharding]  # reduced pair, next pair
        self.program_id, self.calls, self.next_pair = None, 0, None

    def program(self, jaxpr: Jaxpr) -> Jaxpr:
        out_avals = jaxpr.out_avals

        def checked(pair, *args):
            # every process's rows gathered, then the max taken here: gloo's all_gather passes
            # the ring once, an all-reduce twice (as pmap's check does it)
            reduced = lax.reduce_max(lax.with_sharding_constraint(pair, self.out_shardings[0]),
                                     axes=(0,))
            agree = lax.reduce_and(lax.eq(reduced, lax.neg(_swapped(reduced))), axes=(0,))
            held = optimization_barrier_p.bind(reduced, *args)[1:] if args else []
            outs = run_when_in_step(agree, lambda *xs: core.eval_jaxpr(jaxpr, [], *xs), held,
                                    out_avals)
            return outs + [reduced, next_pair(pair)]
        program, consts = closed_as_open(trace_to_jaxpr(checked, [self.aval] + jaxpr.in_avals))
        assert not consts, "the checked program over a mesh took constants"
        return program

    def start(self, name: str, text: str) -> None:
        self.program_id = self.checks.program_id(name, text)

    def first_input(self):
        """The pair of this call: the one the last call computed, or put there for the first."""
        self.calls += 1
        if self.next_pair is None:
            row = self.checks.pair(self.program_id, self.calls).reshape(1, 4)
            target = backend_sharding(self.sharding, 2)
            local = sum(d.process_index == backend.process_index()
                        for d in self.mesh.flat_devices)
            self.next_pair = backend.device_put_partitioned([row] * local, self.aval, target)
        return self.next_pair

    def finish(self, outs: list) -> list:
        """The user's results, once the reduced pair shows that every process was in step."""
        *outs, reduced, self.next_pair = outs
        reduced = np.asarray(Array(reduced, _REDUCED))
        self.checks.verify(self.checks.pair(self.program_id, self.calls), reduced)
        return outs


def _swapped(reduced):
    """(a, b, -a, -b) -> (-a, -b, a, b)"""
    return lax.concatenate([lax.slice_in_dim(reduced, 2, 4), lax.slice_in_dim(reduced, 0, 2)],
                           0)
