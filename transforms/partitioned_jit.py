"""jit over a mesh: one program for all the devices of a mesh, which XLA's SPMD partitioner
(Shardy, the partitioner JAX 0.10.2 uses) splits, from the shardings of its arguments
(jit's in_shardings, or those the argument Arrays carry), of its results (out_shardings) and
the with_sharding_constraint calls inside. Arguments are moved to the layout the program takes
when they have another; results come back as Arrays laid out as XLA chose (or as asked)."""
from __future__ import annotations

import contextlib
import threading
from typing import Sequence

import numpy as np

from spmd.transforms import backend, caches, core, dtypes, inflight, lowering
from spmd.transforms.array import Array
from spmd.transforms.config import config
from spmd.transforms.core import Jaxpr
from spmd.transforms.mesh import Mesh
from spmd.transforms.lax.sharding_constraint import sharding_constraint_p
from spmd.transforms.named_sharding import (NamedSharding, backend_sharding, check_fits,
                                            named_from_xla, resolve, sdy_sharding)
from spmd.transforms.partitioned_call_order import CallOrderCheck
from spmd.transforms import mesh_placement
from spmd.transforms.mesh_placement import local_indices, place, put_blocks
from spmd.transforms.staging import closed_as_open, trace_to_jaxpr


class CrossProcessChecks:
    """What a program over a mesh spanning several processes does around its executions: the
    processes' checks live above this layer (spmd/mesh_processes.py installs them, as pmap has
    them): `before()` at every run (a failed check elsewhere stops it), `agree` before the
    first run (every process built the same program), `track(name)` a runner
    `(execute, bufs) -> (outputs, token)` that watches for a stuck execution, and `failed` the
    error of a run that failed between processes. For the per-call order check
    (transforms/partitioned_call_order.py): `program_id(name, text)`, `pair(id, calls)` (this
    process's (id, count, -id, -count)) and `verify(mine, reduced)`, which raises on every
    process when the reduced pair shows they were out of step. Without them (no job): none."""

    def before(self) -> None:
        pass

    def agree(self, name: str, in_avals, out_avals, text: str) -> None:
        pass

    def track(self, name: str):
        return lambda execute, bufs: execute(bufs)

    def failed(self, name: str, error: Exception) -> Exception:
        return error

    def program_id(self, name: str, text: str) -> int:
        return 1

    def pair(self, pid: int, calls: int) -> np.ndarray:
        return np.array([pid, calls, -pid, -calls], np.int32)

    def verify(self, mine: np.ndarray, reduced: np.ndarray) -> None:
        pass


cross_process_checks = [CrossProcessChecks()]  # [0] replaced by spmd's


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


_traced = threading.local()


@contextlib.contextmanager
def tracing_arguments(tracers, shardings):
    """While jit traces its function: the NamedSharding each argument tracer stands for (its
    in_sharding, else the one its Array carries), for shard_map to read in_specs from, as JAX
    reads them from the argument's type. Only the arguments themselves: spmd's avals carry no
    sharding, so a value computed from them has none to read."""
    stack = _traced.__dict__.setdefault("stack", [])
    stack.append({id(t): (t, s) for t, s in zip(tracers, shardings) if s is not None})
    try:
        yield
    finally:
        stack.pop()


def tracing_a_jit() -> bool:
    """Whether this thread is tracing a jitted function now (its body, or control flow in it):
    a pmap there runs over its devices, as a shard_map over them."""
    return bool(getattr(_traced, "stack", None))


def traced_sharding(x) -> NamedSharding | None:
    """The NamedSharding of `x` when it is an argument of a jit being traced (else None)."""
    for known in reversed(getattr(_traced, "stack", ())):
        hit = known.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
    return None


def constraint_meshes(jaxpr: Jaxpr) -> set:
    """The meshes of the with_sharding_constraint calls and the shard_maps (a primitive with a
    `mesh` param) anywhere in a program."""
    found, todo = set(), [jaxpr]
    while todo:
        for eqn in todo.pop().eqns:
            if eqn.prim is sharding_constraint_p:
                found.add(eqn.params["sharding"].mesh)
            elif isinstance(eqn.params.get("mesh"), Mesh):
                found.add(eqn.params["mesh"])
            todo.extend(core.subprograms(eqn.params))
    return found


def per_device_operands(jaxpr: Jaxpr) -> dict:
    """{input index: the NamedSharding a shard_map (a primitive with `mesh` and `in_specs`
    params) reads it with} for the program's inputs that one takes as they are: JAX's jit
    leaves such arguments to propagation, which lays them out the same way."""
    index = {id(v): i for i, v in enumerate(jaxpr.invars)}
    found: dict = {}
    for eqn in jaxpr.eqns:
        mesh, specs = eqn.params.get("mesh"), eqn.params.get("in_specs")
        if isinstance(mesh, Mesh) and specs is not None:
            for v, spec in zip(eqn.invars, specs):
                if id(v) in index:
                    found.setdefault(index[id(v)], NamedSharding(mesh, spec))
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
    if any(s is None for s in chosen):  # a host value handed to a shard_map goes as it reads
        read = per_device_operands(jaxpr)
        chosen = [read.get(num_consts + i) if s is None else s for i, s in enumerate(chosen)]
    meshes = {s.mesh for s in chosen + list(given_out) if s is not None}
    meshes |= constraint_meshes(jaxpr)
    if not meshes:
        return None
    if len(meshes) > 1:
        raise ValueError("a jit call's shardings name several meshes "
                         f"({', '.join(str(m) for m in meshes)}): one program runs on one mesh; "
                         "place the arguments on the same mesh (a pmap inside jit runs over "
                         "a mesh of its devices named by its axis name: the pmaps of one jit "
                         "need the same devices and axis name)")
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
    __slots__ = ("exe", "out_avals", "plan", "arg_shardings", "float0_out", "inflight_key",
                 "name", "text", "in_avals", "spans_processes", "unchecked", "tracked",
                 "_host_indices", "order")

    def __init__(self, jaxpr: Jaxpr, name: str, donated: Sequence[bool], plan: MeshPlan,
                 compiler_options: tuple = ()):
        if any(a.dtype == dtypes.float0 for a in jaxpr.out_avals):
            raise NotImplementedError("jit over a mesh cannot return float0 values (the "
                                      "gradients of integer inputs); return them from a jit "
                                      "without shardings")
        self.plan, self.out_avals, self.float0_out = plan, jaxpr.out_avals, False
        self.name, self.in_avals = name, jaxpr.in_avals
        self._host_indices = [None] * len(self.in_avals)  # per argument, once placed from host
        # across processes: the same program in every process (checked at the first run),
        # the same program at the same call (checked at every run), each execution watched,
        # as pmap's are
        self.spans_processes = self.unchecked = plan.mesh.is_multi_process
        self.tracked = cross_process_checks[0].track(name) if self.spans_processes else None
        self.order = None
        if self.spans_processes and config.check_call_order:
            self.order = CallOrderCheck(plan.mesh, cross_process_checks[0])
            jaxpr, donated = self.order.program(jaxpr), (False,) + tuple(donated)
            plan = MeshPlan(plan.mesh, (self.order.sharding,) + plan.in_shardings,
                            plan.out_shardings + tuple(self.order.out_shardings))
        self.text = text = lower(jaxpr, name, donated, plan)
        if self.order is not None:
            self.order.start(name, text)
        # the backend's layout each argument must have to be passed on as it is
        self.arg_shardings = [(s, backend_sharding(s, a.ndim))
                              for s, a in zip(self.plan.in_shardings, self.in_avals)]
        mesh = plan.mesh
        self.inflight_key = tuple(sorted(d.id for d in mesh.flat_devices))  # as pmap keys it

        def out_sharding(i, aval, op):
            named = plan.out_shardings[i] or named_from_xla(mesh, op, aval.ndim)
            return backend_sharding(named, aval.ndim)
        self.exe = backend.compile_partitioned(text, jaxpr.out_avals, mesh.flat_devices,
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
                if self.spans_processes:
                    check_host_argument(x, s, labels(i))
                # (a host value in every call: not compared between processes, as in JAX)
                bufs.append(place(x, s, labels(i), check_same=False)._buf)
        return bufs

    def host_buffer(self, i: int, x: np.ndarray):
        """Argument i's buffer from a NumPy array of its shape (a repeat call's host batch):
        its blocks go straight to their devices, the layout arithmetic done once."""
        aval, (s, target) = self.in_avals[i], self.arg_shardings[i]
        indices = self._host_indices[i]
        if indices is None:
            indices = self._host_indices[i] = local_indices(s, aval.shape)
        return put_blocks(np.asarray(x, aval.dtype), aval, indices, target)._buf

    def run(self, args, labels) -> list:
        return self.run_buffers(self.buffers(args, labels))

    def run_buffers(self, bufs) -> list:
        """The results of buffers already laid out as the program takes them."""
        if self.spans_processes:
            return self._run_across_processes(bufs)
        # the partitioner's collectives make the devices meet: bounded as pmap's programs are
        outs = inflight.launch(self.inflight_key, lambda: self.exe.run_with_token(bufs))
        return [Array(b, a) for b, a in zip(outs, self.out_avals)]

    def _run_across_processes(self, bufs) -> list:
        checks = cross_process_checks[0]
        checks.before()
        if self.unchecked:  # a mismatch must fail on every process, not hang
            checks.agree(self.name, self.in_avals, self.out_avals, self.text)
            self.unchecked = False
        if self.order is not None:
            bufs = [self.order.first_input()] + bufs
        try:
            outs = inflight.launch(self.inflight_key,
                                   lambda: self.tracked(self.exe.run_with_token, bufs))
        except backend.JaxRuntimeError as e:
            raise checks.failed(self.name, e) from e
        if self.order is not None:
            outs = self.order.finish(outs)
        return [Array(b, a) for b, a in zip(outs, self.out_avals)]


def check_host_argument(x, sharding, what: str) -> None:
    """Raise for a host value (or an Array of this process alone) that a program over the
    devices of several processes would split between them: no process holds the others' part
    (JAX refuses it too). A replicated one is laid out from each process's copy."""
    if (type(x) is Array and not x.is_fully_addressable) or sharding.is_fully_replicated:
        return
    kind = "an Array of this process's devices" if type(x) is Array else "a host value"
    raise ValueError(
        f"{what} is {kind} ({core.get_aval(x).str_short()}), but the program over "
        f"{sharding.mesh}, whose devices belong to several processes, splits it by "
        f"{sharding.spec}: each process holds only its own part of such an argument. Build it "
        "with spmd.make_array_from_process_local_data(sharding, this_process_part) or "
        "spmd.make_array_from_callback(shape, sharding, callback), or give it a replicated "
        "sharding (PartitionSpec())")


_reshard_programs = caches.LRUCache("resharding programs over a mesh")


def reshard(x: Array, sharding: NamedSharding) -> Array:
    """`x` laid out anew by `sharding` (over the devices of x's mesh) by a program the devices
    run together: how an Array spanning processes changes layout."""
    key = (x.aval, x.sharding, sharding)
    program = _reshard_programs.get(key)
    if program is None:
        jaxpr, _ = closed_as_open(trace_to_jaxpr(lambda v: [v], [x.aval]))
        program = _reshard_programs[key] = MeshProgram(
            jaxpr, "reshard", (False,), MeshPlan(sharding.mesh, [x.sharding], [sharding]))
    return program.run([x], lambda i: "the array")[0]


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


mesh_placement.resharding[0] = reshard
