"""jit: trace once per signature, lower the whole program to one StableHLO module, compile it
with XLA (which fuses), and run it. Inside other transforms a jitted function is the `jit`
call primitive, whose rules transform its sub-program; inside another jit or pmap it is inlined.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Sequence

import numpy as np

from spmd.transforms import (arguments, backend, cache_misses, caches, core, dtypes,
                              lowering, partitioned_jit, placement, stages, tree_util)
from spmd.transforms.array import Array
from spmd.transforms.batching import batching_rules, vmap_flat
from spmd.transforms import debug_checks
from spmd.transforms.config import config
from spmd.transforms.core import ClosedJaxpr, Jaxpr, Primitive, Tracer
from spmd.transforms.eager import to_buffer
from spmd.transforms.jvp import Zero, instantiate, jvp_flat, jvp_rules
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.lax.sharding_constraint import sharding_constraint_p
from spmd.transforms.mesh import get_mesh
from spmd.transforms.named_sharding import resolve
from spmd.transforms.partitioned_jit import mesh_program
from spmd.transforms.staging import (StagingTrace, closed_as_open, partial_eval_jaxpr,
                                     partial_eval_rules, trace_to_jaxpr)
from spmd.transforms.transpose import backward_pass, is_undefined, transpose_rules

# jit's fast path reads the current trace without a call
_thread_state, _eval_trace = core._state, core.eval_trace

# ---------------------------------------------------------------- the call primitive
jit_p = Primitive("jit", multiple_results=True)
jit_p.def_abstract_eval(lambda *avals, jaxpr, name, donated: jaxpr.out_avals)
lowering_rules[jit_p] = lambda ctx, *args, jaxpr, name, donated: lowering.lower_jaxpr(
    ctx, jaxpr, [], list(args))


class CompiledProgram:
    """An executable for a program with fixed input types; `run(args)` returns Arrays, and
    host float0 zeros for float0 results (as JAX: they hold no data; XLA computes bool zeros)."""
    __slots__ = ("exe", "out_avals", "float0_out")

    def __init__(self, jaxpr: Jaxpr, name: str, donated: Sequence[bool],
                 compiler_options: tuple = (), device=None):
        callbacks: list = []  # the Python the program calls (transforms/callbacks.py)
        text = lowering.lower_module(jaxpr, name=name, donated=donated, host_callbacks=callbacks)
        self.out_avals = jaxpr.out_avals
        self.float0_out = any(a.dtype == dtypes.float0 for a in self.out_avals)
        device_avals = [a.update(dtype=np.bool_) if a.dtype == dtypes.float0 else a
                        for a in self.out_avals]
        self.exe = backend.compile(text, device_avals, [device or backend.default_device()],
                                   compiler_options=compiler_options, host_callbacks=callbacks)

    def run(self, bufs) -> list:
        if self.float0_out:
            return [np.zeros(a.shape, dtypes.float0) if a.dtype == dtypes.float0 else Array(b, a)
                    for b, a in zip(self.exe(bufs), self.out_avals)]
        return [Array(b, a) for b, a in zip(self.exe(bufs), self.out_avals)]


@caches.cached
def compiled_program(jaxpr: Jaxpr, name: str, donated: tuple,
                     compiler_options: tuple = (), device=None) -> CompiledProgram:
    return CompiledProgram(jaxpr, name, donated, compiler_options, device)


def _jit_impl(*args, jaxpr, name, donated):
    # a program over a mesh when its arguments are laid out on one or it constrains values
    n = len(args)
    plan = partitioned_jit.plan(jaxpr, 0, [None] * n, partitioned_jit.argument_shardings(args),
                                [None] * len(jaxpr.outvars),
                                lambda: [f"argument {i}" for i in range(n)])
    if plan is not None:
        return mesh_program(jaxpr, name, donated, plan).run(args, lambda i: f"argument {i}")
    device = placement.device_for(args, what=f"jit of {name}")
    return compiled_program(jaxpr, name, donated, (), device).run(
        [to_buffer(x, device) for x in args])


core.impl_rules[jit_p] = _jit_impl


@caches.cached
def jvp_jaxpr(jaxpr: Jaxpr, nonzeros: tuple) -> tuple[Jaxpr, list]:
    """A program taking (its consts, primals, the non-zero tangents) and returning the primal
    outputs, then the tangents of the inexact outputs (instantiated; integer outputs have none),
    and the consts (e.g. the zeros that instantiation creates)."""
    n = len(jaxpr.invars)

    def fun(*args):
        it = iter(args[n:])
        ts = [next(it) if nz else Zero(v.aval) for v, nz in zip(jaxpr.invars, nonzeros)]
        outs, touts = jvp_flat(lambda *xs: core.eval_jaxpr(jaxpr, [], *xs), args[:n], ts)
        return outs + [instantiate(t, core.get_aval(o)) for t, o in zip(touts, outs)
                       if dtypes.is_inexact(core.get_aval(o).dtype)]
    in_avals = jaxpr.in_avals + [v.aval.strip_weak() for v, nz in zip(jaxpr.invars, nonzeros) if nz]
    return closed_as_open(trace_to_jaxpr(fun, in_avals, core.eval_trace))


def _jit_jvp(primals, tangents, *, jaxpr, name, donated):
    nonzeros = tuple(type(t) is not Zero for t in tangents)
    new, consts = jvp_jaxpr(jaxpr, nonzeros)
    nz_tangents = [t for t in tangents if type(t) is not Zero]
    outs = jit_p.bind(*consts, *primals, *nz_tangents, jaxpr=new, name=f"jvp_{name}",
                      donated=(False,) * len(new.invars))
    m = len(jaxpr.outvars)
    it = iter(outs[m:])
    touts = [next(it) if dtypes.is_inexact(a.dtype) else Zero(a) for a in jaxpr.out_avals]
    return outs[:m], touts


jvp_rules[jit_p] = _jit_jvp


def _jit_partial_eval(trace: StagingTrace, args, params):
    """Split the call: the known part runs now on the parent, the rest is staged."""
    jaxpr, name = params["jaxpr"], params["name"]
    unknowns = [trace.owns(x) for x in args]
    known, staged, out_unknowns, num_res = _partial_eval_cached(jaxpr, tuple(unknowns))
    known_args = [x for x, u in zip(args, unknowns) if not u]
    with core.set_current_trace(trace.parent):
        known_outs = jit_p.bind(*known_args, jaxpr=known, name=name,
                                donated=(False,) * len(known.invars))
    n_known_out = len(known_outs) - num_res
    residuals = known_outs[n_known_out:]
    unknown_args = [x for x, u in zip(args, unknowns) if u]
    staged_outs = trace.stage(jit_p, residuals + unknown_args,
                              dict(jaxpr=staged, name=name, donated=(False,) * len(staged.invars)))
    known_it, staged_it = iter(known_outs[:n_known_out]), iter(staged_outs)
    return [next(staged_it) if u else next(known_it) for u in out_unknowns]


@caches.cached
def _partial_eval_cached(jaxpr, unknowns):
    return partial_eval_jaxpr(jaxpr, unknowns)


partial_eval_rules[jit_p] = _jit_partial_eval


def _jit_transpose(cts, *args, jaxpr, name, donated):
    """Transposes the sub-program inline: its linear inputs are the undefined arguments."""
    linear = [is_undefined(a) for a in args]
    consts = [a for a, lin in zip(args, linear) if not lin]
    # Re-express the program with its non-linear inputs as consts, then run the backward pass.
    lin_jaxpr = Jaxpr([v for v, lin in zip(jaxpr.invars, linear) if not lin],
                      [v for v, lin in zip(jaxpr.invars, linear) if lin], jaxpr.outvars, jaxpr.eqns)
    cts_in = backward_pass(lin_jaxpr, consts, cts)
    it = iter(cts_in)
    return [next(it) if lin else None for lin in linear]


transpose_rules[jit_p] = _jit_transpose


def _jit_batch(axis, args, dims, *, jaxpr, name, donated):
    def fun(*xs):
        return core.eval_jaxpr(jaxpr, [], *xs)
    in_avals = [core.get_aval(a) for a in args]
    batched = trace_to_jaxpr(lambda *xs: vmap_flat(fun, axis, xs, dims, [0] * len(jaxpr.outvars)),
                             in_avals, core.eval_trace)
    new, consts = closed_as_open(batched)
    outs = jit_p.bind(*consts, *args, jaxpr=new, name=name, donated=(False,) * len(new.invars))
    return outs, [0] * len(outs)


batching_rules[jit_p] = _jit_batch


# ---------------------------------------------------------------- the user's jit
class _Entry:
    """One traced signature: the program, its argument and output structures (`labels()`
    names the argument leaves, for errors) and, when it has no traced consts, its executable
    and const buffers."""
    __slots__ = ("closed", "jaxpr", "consts", "in_tree", "labels", "out_tree", "program",
                 "const_bufs", "name", "donated", "compiler_options", "device", "plan",
                 "given_in", "given_out", "_labels")

    def __init__(self, closed: ClosedJaxpr, in_tree, labels, out_tree, name, donated,
                 compiler_options: tuple = (), shardings=None):
        self.closed, self.out_tree, self.name = closed, out_tree, name
        self.in_tree, self.labels, self._labels = in_tree, labels, None
        self.compiler_options = compiler_options
        self.jaxpr, self.consts = closed_as_open(closed)
        self.donated = tuple([False] * len(self.consts) + list(donated))
        self.program = None
        self.const_bufs = None
        self.device = None  # where `program` runs (a program over a mesh: its devices)
        # a partitioned program over a mesh, when anything in the call names one
        given_in, carried, given_out = shardings or ([None] * in_tree.num_leaves,) * 2 + (
            [None] * out_tree.num_leaves,)
        self.plan = partitioned_jit.plan(self.jaxpr, len(self.consts), given_in, carried,
                                         given_out, labels)
        self.given_in, self.given_out = given_in, given_out

    def executable(self, device=None) -> CompiledProgram | partitioned_jit.MeshProgram:
        if self.plan is not None:
            if self.program is None:
                self.program = mesh_program(self.jaxpr, self.name, self.donated, self.plan,
                                            self.compiler_options)
                self.const_bufs = list(self.consts)  # placed (replicated) at each call
            return self.program
        device = device or backend.default_device()
        if self.program is None or device != self.device:
            self.program = compiled_program(self.jaxpr, self.name, self.donated,
                                            self.compiler_options, device)
            self.const_bufs = [to_buffer(c, device) for c in self.consts]
            self.device = device
        return self.program

    def label(self, i: int) -> str:
        """The words for leaf i of the program's inputs (consts first), in errors."""
        n = len(self.consts)
        if i < n:
            return "a constant of the function"
        if self._labels is None:  # read from the signature once: moving arguments asks often
            self._labels = self.labels()
        return self._labels[i - n]

    def __call__(self, *leaves, device=None):
        program = self.executable(device)
        if self.plan is not None:
            outs = program.run(self.const_bufs + list(leaves), self.label)
        else:
            outs = program.run(self.const_bufs + [to_buffer(x, self.device) for x in leaves])
        for x, donated in zip(leaves, self.donated[len(self.consts):]):
            if donated and type(x) is Array:
                x.delete()  # used up, as in JAX, even where XLA could not reuse its memory
        return tree_util.tree_unflatten(self.out_tree, outs)


class _FastCall:
    """A signature seen before whose arguments are all device arrays: what JitFunction.__call__
    needs to go straight to XLA. The caller runs `execute(leading + bufs)` itself and wraps one
    array out inline: a call through a helper frame costs a tenth of a jitted `x + 1`."""
    __slots__ = ("execute", "handlers", "leading", "out_avals", "out_aval", "out_tree", "donated",
                 "plain")

    def __init__(self, entry: "_Entry", device):
        program = entry.executable(device)
        # donated arguments: used up after the call, as in JAX (JitFunction.__call__)
        self.donated = [i for i, d in enumerate(entry.donated[len(entry.consts):]) if d]
        self.execute = program.exe.execute
        self.handlers = program.exe.handlers
        self.leading = list(entry.const_bufs)
        self.out_avals = program.out_avals
        self.out_tree = entry.out_tree
        # the common case, one array out, is wrapped inline by the caller
        self.out_aval = (program.out_avals[0] if tree_util.treedef_is_strict_leaf(entry.out_tree)
                         else None)
        # no constants before the arguments, none donated, one array out: what the function
        # jit returns runs itself (JitFunction.dispatcher)
        self.plain = not self.leading and not self.donated and self.out_aval is not None

    def run(self, bufs):
        return self.execute(self.leading + bufs).consume_with_handlers(self.handlers)

    def wrap(self, outs):
        return tree_util.tree_unflatten(self.out_tree, [
            Array(b, a) for b, a in zip(outs, self.out_avals)])


def _constrained(values, shardings) -> list:
    """`values`, each with the sharding jit was given for it (None: as it is)."""
    return [x if s is None else sharding_constraint_p.bind(
        x, sharding=resolve(s, "jit shardings")) for x, s in zip(values, shardings)]


def _mesh_leaf_key(x):
    """How a repeat call over a mesh knows an argument leaf: an Array by its type and layout,
    a NumPy array (a host batch, placed on the way in, as JAX's C++ path does) by its shape
    and dtype; None for anything else (the general path)."""
    if type(x) is Array:
        # the aval's fields, not the aval: equal keys then compare in C, not in Python's __eq__
        aval = x.aval
        return aval.shape, aval.dtype, aval.weak_type, x._buf._sharding
    if type(x) is np.ndarray:
        return x.shape, x.dtype
    return None


class _FastMeshCall:
    """A signature over a mesh seen before, called with arrays in the layouts it takes (or
    NumPy arrays of its argument types): the executable runs on their buffers (bounded in
    flight, as every mesh program is)."""
    __slots__ = ("program", "leading", "out_tree", "donated", "num_consts")

    def __init__(self, entry: "_Entry"):
        self.program = entry.executable()
        n = self.num_consts = len(entry.consts)
        self.leading = self.program.buffers(entry.consts, lambda i: entry.label(i))[:n]
        self.out_tree = entry.out_tree
        self.donated = entry.donated[n:]

    def run(self, leaves, bufs):
        """`bufs`: each leaf's buffer, None for a NumPy leaf (placed here)."""
        for k, b in enumerate(bufs):
            if b is None:
                bufs[k] = self.program.host_buffer(self.num_consts + k, leaves[k])
        outs = self.program.run_buffers(self.leading + bufs)
        for x, donated in zip(leaves, self.donated):
            if donated and type(x) is Array:
                x.delete()  # used up, as in JAX, even where XLA could not reuse its memory
        return tree_util.tree_unflatten(self.out_tree, outs)


_NO_ARGUMENT = object()  # a call of a jitted function without positional arguments


class JitFunction:
    def __init__(self, fun: Callable, argnums: arguments.Argnums, inline: bool = False,
                 compiler_options: tuple = (), device=None, in_shardings=None,
                 out_shardings=None):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.device = device  # jit(device=...): None follows the arguments (placement.py)
        # None where not given; a bare PartitionSpec names the axes of the mesh current at
        # the call, so the current mesh keys the traces when either is given
        self.in_shardings, self.out_shardings = in_shardings, out_shardings
        self.with_shardings = in_shardings is not None or out_shardings is not None
        self.compiler_options = compiler_options
        self.argnums = argnums
        self.static_argnums, self.static_argnames = argnums.static_nums, argnums.static_names
        self.inline = inline
        self.name = getattr(fun, "__name__", "fun")
        self._cache = caches.LRUCache(f"jit {self.name}")
        self._fast = caches.LRUCache(f"jit {self.name}: fast calls")  # array avals -> FastCall
        # (pytree structure of the arguments, avals) -> FastCall
        self._fast_tree = caches.LRUCache(f"jit {self.name}: fast pytree calls")
        # (pytree structure, (aval, layout) per leaf) -> _FastMeshCall
        self._fast_mesh = caches.LRUCache(f"jit {self.name}: fast calls over a mesh")

    def _entry(self, args, kwargs):
        split = arguments.split_static(args, kwargs, self.static_argnums, self.static_argnames,
                                       "jit", fun=self.fun)
        leaves, in_tree = tree_util.tree_flatten((split.dyn_args, split.dyn_kwargs))
        avals = tuple(x.aval if type(x) is Array else core.get_aval(x) for x in leaves)
        # collectives trace differently under different named axes (all_gather's size)
        axes = tuple((f.name, f.size) for f in core.axis_env())
        carried = partitioned_jit.argument_shardings(leaves)
        key = (split.static, split.static_kw, in_tree, avals, axes, carried) + (
            (get_mesh(),) if self.with_shardings else ())
        entry = self._cache.get(key)
        if entry is None:
            if config.explain_cache_misses:
                cache_misses.explain(self.fun, self.name, key, self._cache.keys(),
                                     arguments.labels_for(self.fun, in_tree,
                                                          split.dyn_positions))
            entry = self._trace(split, in_tree, avals, len(args), carried)
            if all(not isinstance(c, Tracer) for c in entry.consts):
                self._cache[key] = entry
        return entry, leaves

    def _trace(self, split: arguments.Split, in_tree, avals, nargs, carried=None):
        out_tree_box = []
        static_kw = dict(split.static_kw)

        given_in = ([None] * in_tree.num_leaves if self.in_shardings is None else
                    arguments.in_shardings_per_leaf(self.in_shardings, in_tree,
                                                    tuple(split.dyn_positions), nargs))
        carried = carried or (None,) * in_tree.num_leaves
        known = [partitioned_jit.resolve(g, "jit in_shardings") if g is not None else c
                 for g, c in zip(given_in, carried)]

        def flat_fun(*flat):
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, flat)
            full = arguments.merge_static(split.static, dyn_args, nargs)
            with partitioned_jit.tracing_arguments(flat, known):  # shard_map's inferred specs
                out = self.fun(*full, **dyn_kwargs, **static_kw)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_tree_box.append(out_tree)
            return out_leaves

        closed = trace_to_jaxpr(flat_fun, avals)
        donated = arguments.donated_leaves(in_tree, split.dyn_positions, nargs, self.argnums)
        labels = arguments.labels_for(self.fun, in_tree, split.dyn_positions)
        out_tree = out_tree_box[0]
        given_out = ([None] * out_tree.num_leaves if self.out_shardings is None else
                     arguments.shardings_per_leaf(self.out_shardings, out_tree,
                                                  "jit out_shardings"))
        return _Entry(closed, in_tree, labels, out_tree, self.name, donated,
                      self.compiler_options, (given_in, carried, given_out))

    def __call__(self, *args, **kwargs):
        if _jit_special:
            if _jit_disabled:  # spmd.disable_jit(): the Python runs eagerly
                return self.fun(*args, **kwargs)
            if not debug_checks.in_check() and _thread_state.trace is _eval_trace:
                return debug_checks.checked_jit_call(self, self.fun, self.name, args, kwargs,
                                                     disable_jit)
        # Fast path: a repeat call with device arrays only, outside any transform. Every
        # microsecond here is dispatch time (a jitted x + 1 runs in a few), hence one argument
        # looked up by its aval alone, straight-line code, the trace read without a call, and
        # no check of where the buffers live: a buffer the program cannot take (a pmap result,
        # spread over several devices) makes XLA refuse the call before it runs, and the
        # general path below moves it. Anything without `aval` and `_buf` (an Array's) leaves
        # the path at once.
        if not kwargs and _thread_state.trace is _eval_trace:
            try:
                if len(args) == 1:
                    a = args[0]
                    fast = self._fast.peek(a.aval)
                    bufs = [a._buf]
                else:
                    avals, bufs = [], []
                    for a in args:
                        avals.append(a.aval)
                        bufs.append(a._buf)
                    fast = self._fast.peek(tuple(avals))
            except AttributeError:  # pytrees (params as dicts, lists) or host values
                fast, bufs = self._fast_tree_lookup(args)
            if fast is not None:
                try:
                    outs = fast.execute(fast.leading + bufs).consume_with_handlers(fast.handlers)
                except backend.JaxRuntimeError:
                    pass
                else:
                    for i in fast.donated:
                        args[i].delete()
                    if fast.out_aval is not None:
                        return Array(outs[0], fast.out_aval)
                    return fast.wrap(outs)
            elif self._fast_mesh:
                outs = self._fast_mesh_call(args)
                if outs is not None:
                    return outs
        if self.inline and core.current_trace() is not core.eval_trace:
            return self.fun(*args, **kwargs)  # traced into the caller's program, no call
        entry, leaves = self._entry(args, kwargs)
        eager = core.current_trace() is core.eval_trace and not any(
            isinstance(c, Tracer) for c in entry.consts)
        if entry.plan is not None:
            if eager and not kwargs and not self.static_argnums:
                program = entry.executable()
                targets = [t for _, t in program.arg_shardings[len(entry.consts):]]
                keys = [_mesh_leaf_key(a) for a in leaves]
                # keyed by the layouts too: only arrays already laid out so go straight in, and
                # host batches only within one process (across processes: the checks of
                # MeshProgram.buffers at every call)
                if all(k is not None and (type(a) is Array and k[-1] is t
                                          or type(a) is not Array and not program.spans_processes)
                       for a, k, t in zip(leaves, keys, targets)):
                    self._fast_mesh[(tree_util.tree_structure(args), tuple(keys))] = (
                        _FastMeshCall(entry))
            if eager:
                return entry(*leaves)
            leaves = _constrained(leaves, entry.given_in)  # inside a transform: constraints
        else:
            device = placement.device_for(leaves, self.device, f"jit of {self.name}") if eager \
                else None
            # the fast path takes arguments already on the program's device (XLA refuses others)
            if (eager and not kwargs and not self.static_argnums
                    and all(type(a) is Array and backend.single_device_of(a._buf) == device
                            for a in leaves)
                    and not entry.executable(device).float0_out):  # float0 results: host zeros
                avals = tuple(a.aval for a in leaves)
                if len(leaves) == len(args) and all(type(a) is Array for a in args):
                    # one argument is keyed by its aval alone, as the fast path looks it up
                    self._fast[avals[0] if len(avals) == 1 else avals] = _FastCall(entry, device)
                elif not any(entry.donated):  # (only flat arguments find their donated Arrays)
                    self._fast_tree[(tree_util.tree_structure(args), avals)] = _FastCall(
                        entry, device)
            if eager:
                return entry(*leaves, device=device)
        outs = jit_p.bind(*entry.consts, *leaves, jaxpr=entry.jaxpr, name=self.name,
                          donated=entry.donated)
        if entry.plan is not None:
            outs = _constrained(outs, entry.given_out)
        return tree_util.tree_unflatten(entry.out_tree, outs)

    def _fast_mesh_call(self, args):
        """The outputs of a repeat call of a program over a mesh whose arguments are laid out
        as it takes them (or are NumPy arrays of its argument types); None otherwise."""
        leaves, tree = tree_util.tree_flatten(args)
        keys = tuple(_mesh_leaf_key(a) for a in leaves)
        fast = self._fast_mesh.peek((tree, keys))  # one lookup: see LRUCache.peek
        if fast is None:  # a new layout, a Python scalar, a tracer: the general path
            return None
        bufs = [a._buf if type(a) is Array else None for a in leaves]
        # a donated (deleted) buffer would crash XLA's multi-device launch: the general path
        # says what happened
        if any(b is not None and b.is_deleted() for b in bufs):
            return None
        return fast.run(leaves, bufs)

    def _fast_tree_lookup(self, args):
        """(_FastCall, buffers) for a repeat call whose arguments are pytrees of device arrays;
        (None, None) otherwise."""
        if not self._fast_tree:
            return None, None
        leaves, tree = tree_util.tree_flatten(args)
        avals, bufs = [], []
        try:
            for a in leaves:
                avals.append(a.aval)
                bufs.append(a._buf)
        except AttributeError:  # a host value or a tracer: the general path
            return None, None
        return self._fast_tree.get((tree, tuple(avals))), bufs

    def dispatcher(self) -> Callable:
        """What jit returns: a plain function, which Python calls for less than an object's
        `__call__` (0.2 us of a jitted x + 1's 4.5), running the commonest repeat call itself
        (one device array in, one array out, no constants, nothing donated, outside any
        transform) and handing every other call to this object. Its `lower` and `trace` are
        this object's; `_jit` is the object."""
        # (the table's lookup bound once: LRUCache.peek stays its dict's `get` for good)
        peek, call = self._fast.peek, self.__call__

        def jitted(a=_NO_ARGUMENT, /, *args, **kwargs):
            if not args and not kwargs and not _jit_special \
                    and _thread_state.trace is _eval_trace:
                try:  # anything without an Array's `aval` and `_buf` goes the general way
                    fast = peek(a.aval)
                    buf = a._buf
                except AttributeError:
                    fast = None
                if fast is not None and fast.plain:
                    try:
                        out = fast.execute([buf]).consume_with_handlers(fast.handlers)[0]
                    except backend.JaxRuntimeError:
                        pass  # a buffer the program cannot take: __call__ moves it
                    else:
                        return Array(out, fast.out_aval)
            return call(*args, **kwargs) if a is _NO_ARGUMENT else call(a, *args, **kwargs)
        functools.update_wrapper(jitted, self.fun)
        jitted.lower, jitted.trace, jitted._jit = self.lower, self.trace, self
        return jitted

    def lower(self, *args, **kwargs) -> stages.Lowered:
        """The program for these arguments (arrays, or ShapeDtypeStructs for their types
        alone), lowered to StableHLO: `.compile()` gives the executable, called with the
        arguments less the static ones."""
        entry, _ = self._entry(args, kwargs)
        return stages.Lowered(_StagedJit(entry), entry.in_tree, entry.out_tree, entry.labels)

    def trace(self, *args, **kwargs) -> ClosedJaxpr:
        return self._entry(args, kwargs)[0].closed


class _StagedJit:
    """One jit signature as the ahead-of-time stages see it (transforms/stages.py)."""

    def __init__(self, entry: _Entry):
        self.entry, self.name = entry, entry.name
        n = len(entry.consts)
        self.in_avals, self.donated = entry.jaxpr.in_avals[n:], entry.donated[n:]
        self.out_avals = entry.jaxpr.out_avals
        if entry.plan is not None:  # the partitioned program's text, as compiled
            self.text = partitioned_jit.lower(entry.jaxpr, entry.name, entry.donated, entry.plan)
        else:
            self.text = lowering.lower_module(entry.jaxpr, name=entry.name,
                                              donated=entry.donated)

    def compile(self, compiler_options: tuple) -> "_CompiledJit":
        # compile()'s options add to (and override) jit's own, as in JAX
        merged = dict(self.entry.compiler_options)
        merged.update(compiler_options)
        return _CompiledJit(self, backend.compiler_options_key(merged))


class _CompiledJit:
    """Its executable: runs on the default device, as jit does, or over the mesh of its
    shardings."""

    def __init__(self, staged: _StagedJit, compiler_options: tuple):
        entry = self.entry = staged.entry
        if entry.plan is not None:
            program = mesh_program(entry.jaxpr, entry.name, entry.donated, entry.plan,
                                   compiler_options)
            self.executable = program.exe
            self._run = lambda leaves: program.run(list(entry.consts) + list(leaves),
                                                   entry.label)
            self.input_placements = list(entry.plan.in_shardings[len(entry.consts):])
            self.output_placements = program.output_shardings
            return
        program = compiled_program(entry.jaxpr, entry.name, entry.donated, compiler_options)
        self.executable = program.exe
        const_bufs = [to_buffer(c) for c in entry.consts]
        self._run = lambda leaves: program.run(const_bufs + [to_buffer(x) for x in leaves])
        here = stages.Placement("single", [backend.default_device()])
        self.input_placements = [here] * len(staged.in_avals)
        self.output_placements = [here] * len(staged.out_avals)

    def __call__(self, leaves) -> list:
        return self._run(leaves)


_jit_disabled = bool(config.disable_jit)  # read on every call, so module globals
_jit_special = _jit_disabled or debug_checks.active  # either: the fast path is not taken


def _set_special(_value=None):
    global _jit_disabled, _jit_special
    _jit_disabled = bool(config.disable_jit)
    _jit_special = _jit_disabled or debug_checks.active


for _option in ("disable_jit", "debug_nans", "debug_infs"):
    config.on_change(_option, _set_special)  # (after debug_checks' own listener)


@contextlib.contextmanager
def disable_jit(disable: bool = True):
    """`with disable_jit(): ...`: jitted functions run their Python eagerly, op by op, so that
    prints show values and a debugger can stop inside (as jax.disable_jit)."""
    before = config.disable_jit
    config.update("disable_jit", bool(disable))
    try:
        yield
    finally:
        config.update("disable_jit", before)


_UNSPECIFIED = object()  # in_shardings/out_shardings not given
_backend = backend  # jit's `backend` keyword hides the module there


def jit(fun: Callable | None = None, *, in_shardings=_UNSPECIFIED, out_shardings=_UNSPECIFIED,
        static_argnums=None, static_argnames=None, donate_argnums=None, donate_argnames=None,
        keep_unused: bool = False, device=None, backend=None, inline: bool = False,
        abstracted_axes=None, compiler_options=None):
    """Compile `fun` with XLA. Usable as `@jit`, `@jit(static_argnums=...)` or `jit(f, ...)`.

    JAX's keywords: static_argnums/static_argnames (Python values, one program per value),
    donate_argnums/donate_argnames (buffers the program may reuse), inline (trace the function
    into an enclosing transform's program instead of a call), device (the device it runs on,
    its arguments moved there; without it the program follows its arguments), backend ('cpu'
    or None). keep_unused is accepted either way: spmd never prunes unused inputs. compiler_options
    ({name: value}, XLA's options) compile the function's programs; a jitted function inside
    grad, vmap or another transform runs the transformed program with XLA's defaults. The
    in_shardings/out_shardings (NamedShardings or, under a current mesh, PartitionSpecs; a
    pytree prefix of the positional arguments / of the output) compile the function once for
    their mesh, partitioned by XLA; arguments that carry a NamedSharding do the same.
    abstracted_axes raises NotImplementedError.
    """
    unsupported = {"abstracted_axes": abstracted_axes is not None}
    if device is not None and (in_shardings is not _UNSPECIFIED
                               or out_shardings is not _UNSPECIFIED):
        raise ValueError("jit takes device= or in_shardings/out_shardings, not both: a "
                         "program runs on one device or over the devices of a mesh")
    for keyword, given in unsupported.items():
        if given:
            raise NotImplementedError(f"jit({keyword}=...) is not supported: "
                                      f"{_UNSUPPORTED_WHY[keyword]}; leave {keyword} out")
    arguments.check_backend(backend, "jit")
    if device is not None and backend is not None:
        raise ValueError(f"can't specify both a device and a backend for jit, got "
                         f"device={device!r} and backend={backend!r}: give one of them")
    placement.check_device(device, "jit")
    options = _backend.compiler_options_key(compiler_options)

    def make(f):
        arguments.check_callable(f, "jit")
        return JitFunction(f, arguments.resolve_argnums(
            f, "jit", static_argnums=static_argnums, static_argnames=static_argnames,
            donate_argnums=donate_argnums, donate_argnames=donate_argnames), bool(inline),
            options, device, None if in_shardings is _UNSPECIFIED else in_shardings,
            None if out_shardings is _UNSPECIFIED else out_shardings).dispatcher()
    return make if fun is None else make(fun)


_UNSUPPORTED_WHY = {
    "abstracted_axes": "spmd traces with static shapes only",
}
