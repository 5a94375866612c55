"""jit over a mesh: one program for all the devices of a mesh, which XLA's SPMD partitioner
(Shardy, the partitioner JAX 0.10.2 uses) splits, from the shardings of its arguments
(jit's in_shardings, or those the argument Arrays carry), of its results (out_shardings) and
the with_sharding_constraint calls inside. Arguments are moved to the layout the program takes
when they have another; results come back as Arrays laid out as XLA chose (or as asked)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from spmd.transforms import backend, caches, core, dtypes, inflight, lowering
from spmd.transforms.array import Array
from spmd.transforms.core import Jaxpr
from spmd.transforms.lax.sharding_constraint import sharding_constraint_p
from spmd.transforms.named_sharding import (NamedSharding, backend_sharding, check_fits,
                                            named_from_xla, resolve, sdy_sharding)
from spmd.transforms.mesh_placement import place, put_blocks


class MeshPlan:
    """The shardings a partitioned call uses: one NamedSharding per argument leaf (unspecified
    ones replicated) and one per result (None: the partitioner's choice). Hashable: it keys the
    compiled programs."""
    __slots__ = ("mesh", "in_shardings", "out_shardings")

    def __init__(self, mesh, in_shardings: Sequence, out_shardings: Sequence):
        self.mesh = mesh
        self.in_shardings = tuple(in_shardings)
        self.out_shardings = tuple(out_shardings)

    def _key(self):
        return (self.mesh, self.in_shardings, self.out_shardings)

    def __eq__(self, other):
        return type(other) is MeshPlan and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


def argument_shardings(leaves) -> tuple:
    """The NamedSharding each argument leaf carries (None: a host value or a single-device
    Array), as the caches key them."""
    return tuple(x._buf._sharding.named if type(x) is Array and x.is_partitioned else None
                 for x in leaves)


def constraint_meshes(jaxpr: Jaxpr) -> set:
    """The meshes of the with_sharding_constraint calls anywhere in a program."""
    found, todo = set(), [jaxpr]
    while todo:
        for eqn in todo.pop().eqns:
            if eqn.prim is sharding_constraint_p:
                found.add(eqn.params["sharding"].mesh)
            todo.extend(core.subprograms(eqn.params))
    return found


def plan(jaxpr: Jaxpr, num_consts: int, given_in: Sequence, carried: Sequence,
         given_out: Sequence, labels) -> MeshPlan | None:
    """The MeshPlan of a call, or None when nothing in it names a mesh (an ordinary program).
    `given_in`/`given_out`: jit's in/out_shardings per leaf (None where unspecified);
    `carried`: the shardings the argument Arrays carry; `labels()` names the arguments."""
    given_in = [resolve(s, "jit in_shardings") for s in given_in]
    given_out = [resolve(s, "jit out_shardings") for s in given_out]
    for s in list(given_in) + list(given_out):
        if s is not None and not isinstance(s, NamedSharding):
            raise NotImplementedError(f"jit takes NamedShardings (or PartitionSpecs) in "
                                      f"in_shardings/out_shardings, got {s!r}")
    chosen = [g if g is not None else c for g, c in zip(given_in, carried)]
    meshes = {s.mesh for s in chosen + list(given_out) if s is not None}
    meshes |= constraint_meshes(jaxpr)
    if not meshes:
        return None
    if len(meshes) > 1:
        raise ValueError("a jit call's shardings name several meshes "
                         f"({', '.join(str(m) for m in meshes)}): one program runs on one mesh; "
                         "place the arguments on the same mesh")
    mesh = meshes.pop()
    names = None
    in_avals = jaxpr.in_avals[num_consts:]
    for i, (s, aval) in enumerate(zip(chosen, in_avals)):
        if s is not None:
            names = names or labels()
            check_fits(s, aval.shape, names[i])
    for i, (s, aval) in enumerate(zip(given_out, jaxpr.out_avals)):
        if s is not None:
            check_fits(s, aval.shape, f"result {i} of the jitted function")
    replicated = NamedSharding(mesh)
    consts = [replicated] * num_consts
    return MeshPlan(mesh, consts + [s or replicated for s in chosen], given_out)


@caches.cached  # lower(...).compile() asks twice: for the text, then for the executable
def lower(jaxpr: Jaxpr, name: str, donated: Sequence[bool], plan: MeshPlan) -> str:
    """The module for XLA's partitioner: the mesh, and each argument's and result's sharding."""
    return lowering.lower_module(
        jaxpr, name=name, donated=donated, mesh=plan.mesh,
        in_shardings=[sdy_sharding(s, a.ndim) for s, a in zip(plan.in_shardings,
                                                               jaxpr.in_avals)],
        out_shardings=[None if s is None else sdy_sharding(s, a.ndim)
                       for s, a in zip(plan.out_shardings, jaxpr.out_avals)])


class MeshProgram:
    """A program compiled for a mesh: `run(args, labels)` moves arguments laid out otherwise,
    runs it on every device of the mesh and returns the results as Arrays."""
    __slots__ = ("exe", "in_avals", "out_avals", "plan", "arg_shardings", "float0_out",
                 "inflight_key", "_host_indices")

    def __init__(self, jaxpr: Jaxpr, name: str, donated: Sequence[bool], plan: MeshPlan,
                 compiler_options: tuple = ()):
        if any(a.dtype == dtypes.float0 for a in jaxpr.out_avals):
            raise NotImplementedError("jit over a mesh cannot return float0 values (the "
                                      "gradients of integer inputs); return them from a jit "
                                      "without shardings")
        self.plan, self.out_avals, self.float0_out = plan, jaxpr.out_avals, False
        self.in_avals = jaxpr.in_avals
        self._host_indices = [None] * len(self.in_avals)  # per argument, once placed from host
        text = lower(jaxpr, name, donated, plan)
        # the backend's layout each argument must have to be passed on as it is
        self.arg_shardings = [(s, backend_sharding(s, a.ndim))
                              for s, a in zip(plan.in_shardings, jaxpr.in_avals)]
        mesh = plan.mesh
        self.inflight_key = tuple(sorted(d.id for d in mesh.flat_devices))  # as pmap keys it

        def out_sharding(i, aval, op):
            named = plan.out_shardings[i] or named_from_xla(mesh, op, aval.ndim)
            return backend_sharding(named, aval.ndim)
        self.exe = backend.compile_partitioned(text, self.out_avals, mesh.flat_devices,
                                               out_sharding, compiler_options)

    @property
    def output_shardings(self) -> list:
        """The NamedSharding of each result (as asked, or as XLA chose)."""
        ops = self.exe.loaded.get_output_shardings()
        return [s or named_from_xla(self.plan.mesh, op, a.ndim)
                for s, op, a in zip(self.plan.out_shardings, ops, self.out_avals)]

    def buffers(self, args, labels) -> list:
        """Each argument's buffer in the layout the program takes (moved when it has another)."""
        bufs = []
        for i, (x, (s, target)) in enumerate(zip(args, self.arg_shardings)):
            if type(x) is Array and x._buf._sharding is target:
                x._check_alive()
                bufs.append(x._buf)
            else:
                bufs.append(place(x, s, labels(i))._buf)
        return bufs

    def host_buffer(self, i: int, x: np.ndarray):
        """Argument i's buffer from a NumPy array of its shape (a repeat call's host batch):
        its blocks go straight to their devices, the layout arithmetic done once."""
        aval, (s, target) = self.in_avals[i], self.arg_shardings[i]
        indices = self._host_indices[i]
        if indices is None:
            indices = self._host_indices[i] = s._indices(aval.shape)
        return put_blocks(np.asarray(x, aval.dtype), aval, indices, target)._buf

    def run(self, args, labels) -> list:
        return self.run_buffers(self.buffers(args, labels))

    def run_buffers(self, bufs) -> list:
        """The results of buffers already laid out as the program takes them."""
        # the partitioner's collectives make the devices meet: bounded as pmap's programs are
        outs = inflight.launch(self.inflight_key, lambda: self.exe.run_with_token(bufs))
        return [Array(b, a) for b, a in zip(outs, self.out_avals)]


@caches.cached
def mesh_program(jaxpr: Jaxpr, name: str, donated: tuple, plan: MeshPlan,
                 compiler_options: tuple = ()) -> MeshProgram:
    return MeshProgram(jaxpr, name, donated, plan, compiler_options)


_one_op_programs = caches.LRUCache("one-op programs over a mesh")


def is_partitioned(x) -> bool:
    return type(x) is Array and type(x._buf._sharding) is backend.PartitionedSharding


def apply_one_op(key, args, make_jaxpr, name: str) -> list:
    """An eager operation on arrays laid out on a mesh, run there (as JAX does), partitioned
    like a jitted one: `key` is the operation's cache key and `make_jaxpr()` its program."""
    carried = argument_shardings(args)
    program = _one_op_programs.get((key, carried))
    if program is None:
        jaxpr = make_jaxpr()
        labels = [f"operand {i} of {name}" for i in range(len(args))]
        found = plan(jaxpr, 0, [None] * len(args), carried, [None] * len(jaxpr.outvars),
                     lambda: labels)
        program = _one_op_programs[(key, carried)] = MeshProgram(
            jaxpr, name, (False,) * len(args), found)
    return program.run(args, lambda i: f"operand {i} of {name}")
