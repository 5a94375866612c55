"""pmap: run one compiled program on several devices, one slice of the mapped axis each, with
named-axis collectives (spmd.lax.psum, ...) between them. The semantics are JAX's.

This module keeps the compiled programs and picks the devices; the arguments (static ones,
in_axes, the mapped size) are read by spmd.transforms.arguments, as for jit and vmap, so the
errors are the same words; pmap_program.py traces, lowers and runs one signature. The cache is keyed
on the function object, not on the pmap wrapper, so a pmap re-created around the same function
(`for ...: pmap(step)(x)`) reuses the compiled program.
"""
from __future__ import annotations

import functools
from typing import Callable

from spmd import pmap_in_jit, pmap_stages
from spmd.devices import devices_for, process_count
from spmd.pmap_primitive import bind_pmap
from spmd.pmap_program import PmapProgram, trace_per_device
from spmd.transforms import arguments, caches, core, tree_util
from spmd.transforms.array import Array
from spmd.transforms.batching import moveaxis
from spmd.transforms.core import Tracer
from spmd.transforms.staging import closed_as_open

_signatures = caches.LRUCache("pmap signatures")


def pmap(fun: Callable | None = None, axis_name=None, *, in_axes=0, out_axes=0,
         static_broadcasted_argnums=(), devices=None, backend=None, axis_size=None,
         donate_argnums=(), global_arg_shapes=None):
    """Map `fun` over the leading axis (or `in_axes`) of its arguments, one slice per device,
    as one XLA program replicated over the devices, as `jax.pmap` does.

    - `axis_name` names the mapped axis for collectives inside `fun` (`spmd.lax.psum(x, 'i')`).
    - `in_axes`: an int, None (broadcast the argument to every device) or a tuple with one
      entry (int, None or a pytree prefix) per positional argument; keyword arguments are
      mapped over axis 0. `out_axes` likewise for the outputs; None returns the value of one
      device (the output must then be the same on every device, which is not checked).
    - `static_broadcasted_argnums`: positional arguments passed as Python values (hashable);
      each distinct value compiles its own program.
    - `devices`: the devices to map over (as many as the mapped size); by default the first
      local devices. `axis_size` fixes the size when no argument is mapped.
    - `donate_argnums`: arguments whose device buffers the program may reuse for its outputs.
    - `backend`: None or 'cpu' (the platforms present); `global_arg_shapes`, which JAX removed,
      is an error.

    Inside jit (and cond, fori_loop or scan within it) the pmap runs over its devices as a
    shard_map, as in JAX: the jit compiles for them and its results are laid out on them.
    Inside another pmap (nested), or in an eager cond or loop, it computes as the vmap of `fun`
    under `axis_name` on the enclosing program's device (same numbers).

    Results are `spmd.Array`s that stay on their devices: a mapped result is stacked over them
    (`x[i]` is device i's part, `np.asarray(x)` gathers it) and feeds the next pmap with no
    copy. Executions in flight per device set are bounded (spmd/inflight.py), so a loop that
    never waits for its results cannot deadlock XLA's CPU collectives.
    """
    if global_arg_shapes is not None:
        raise ValueError("pmap: global_arg_shapes only worked with sharded_jit, which has long "
                         "been removed from JAX (and pmap no longer takes it); remove "
                         "global_arg_shapes from the pmap call")
    arguments.check_backend(backend, "pmap")
    if devices is not None and not list(devices):
        raise ValueError("'devices' argument to pmap must be non-empty, or None.")
    if fun is None:
        return functools.partial(pmap, axis_name=axis_name, in_axes=in_axes, out_axes=out_axes,
                                 static_broadcasted_argnums=static_broadcasted_argnums,
                                 devices=devices, backend=backend, axis_size=axis_size,
                                 donate_argnums=donate_argnums)
    arguments.check_callable(fun, "pmap")
    return PmapFunction(fun, axis_name, in_axes, out_axes, static_broadcasted_argnums, devices,
                        axis_size, donate_argnums)


class PmapFunction:
    """The mapped function. Calling it finds (or builds) the program for the arguments' types."""

    def __init__(self, fun, axis_name, in_axes, out_axes, static_argnums, devices, axis_size,
                 donate_argnums):
        functools.update_wrapper(self, fun)
        self.fun, self.axis_name, self.axis_size = fun, axis_name, axis_size
        self._in_spec = arguments.axes_spec(in_axes, "in_axes", "pmap", per_argument=True)
        self._out_spec = arguments.axes_spec(out_axes, "out_axes", "pmap")
        # static and donated arguments are positional only in pmap (JAX's): no names
        self.argnums = arguments.resolve_argnums(
            fun, "pmap", static_argnums=static_argnums, donate_argnums=donate_argnums,
            static_what="static_broadcasted_argnums")._replace(static_names=(), donate_names=())
        self.static_argnums = self.argnums.static_nums
        self.donate_argnums = self.argnums.donate_nums
        self.devices = None if devices is None else tuple(devices)
        self.name = getattr(fun, "__name__", "fun")
        # (avals of all-Array arguments) -> (program, output tree)
        self._by_avals = caches.LRUCache(f"pmap {self.name}")
        self._settings = (fun, axis_name, self._in_spec.key, self._out_spec.key,
                          self.static_argnums, self.donate_argnums, axis_size,
                          None if devices is None else tuple(d.id for d in self.devices))

    def __call__(self, *args, **kwargs):
        key = self._array_key(args, kwargs)
        if key is not None:
            known = self._by_avals.get(key)
            if known is not None:  # the fastest path: no flattening, no signature
                program, out_tree = known
                return tree_util.tree_unflatten(out_tree, program(args))
        sig, leaves = self._signature(args, kwargs)
        if core.current_trace() is core.eval_trace and sig.program_ok:
            outs = sig.program()(leaves)  # the fast path: straight to the compiled program
            if key is not None:
                self._by_avals[key] = (sig.program(), sig.out_tree)
        else:
            outs = self._bind(sig, leaves)
        return tree_util.tree_unflatten(sig.out_tree, outs)

    def _array_key(self, args, kwargs):
        """The avals of the arguments when every one is a device Array passed positionally
        outside any transform (a training loop feeding back pmap results), else None."""
        if kwargs or self.static_argnums or core.current_trace() is not core.eval_trace \
                or core.axis_env():
            return None
        avals = []
        for a in args:
            if type(a) is not Array:
                return None
            avals.append(a.aval)
        return tuple(avals)

    def lower(self, *args, **kwargs):
        """The program for these arguments (arrays, or ShapeDtypeStructs for their types
        alone) as JAX's Lowered: `.as_text()`, `.compile(compiler_options)`, whose result is
        called with the arguments of the pmapped function (less the static ones)."""
        return pmap_stages.lower(self._signature(args, kwargs)[0])

    def __get__(self, obj, objtype=None):  # decorating methods
        return self if obj is None else functools.partial(self, obj)

    def _bind(self, sig, leaves):
        """Under grad/jvp/vmap (or with traced values closed over): the pmap primitive; while
        a jit is traced, a shard_map over the pmap's devices (spmd/pmap_in_jit.py)."""
        if pmap_in_jit.applies(self.axis_name):
            return pmap_in_jit.bind(
                sig.jaxpr, list(sig.consts) + list(leaves),
                [None] * len(sig.consts) + list(sig.dims), sig.out_dims,
                axis_name=self.axis_name, size=sig.size, devices=self.devices, name=self.name)
        moved = [x if d in (None, 0) else moveaxis(x, d, 0) for x, d in zip(leaves, sig.dims)]
        outs = bind_pmap(list(sig.consts) + moved, sig.jaxpr,
                         [None] * len(sig.consts) + [None if d is None else 0 for d in sig.dims],
                         [None if d is None else 0 for d in sig.out_dims],
                         axis_name=self.axis_name, axis_size=sig.size,
                         devices=self.devices, name=self.name)
        return [o if d in (None, 0) else moveaxis(o, 0, d) for o, d in zip(outs, sig.out_dims)]

    # ---------------------------------------------------------------- the cache
    def _signature(self, args, kwargs):
        split = arguments.split_static(args, {}, self.static_argnums, (), "pmap",
                                       "static_broadcasted_argnums", self.fun)
        leaves, in_tree = tree_util.tree_flatten((split.dyn_args, kwargs))
        dims = arguments.in_axes_per_leaf(self._in_spec.key, in_tree, split.dyn_positions,
                                          len(args), "pmap")
        avals = tuple(x.aval if type(x) is Array else core.get_aval(x) for x in leaves)
        axes = tuple((f.name, f.size) for f in core.axis_env())  # under vmap: its names
        key = (self._settings, split.static, len(args), in_tree, avals, dims, axes)
        sig = _signatures.get(key)
        if sig is None:
            sig = self._trace(split, len(args), in_tree, avals, dims)
            if not sig.closes_over_tracers:
                _signatures[key] = sig
        return sig, leaves

    # ---------------------------------------------------------------- a new signature
    def _trace(self, split, nargs, in_tree, avals, raw_dims):
        labels = arguments.labels_for(self.fun, in_tree, split.dyn_positions)
        dims = arguments.canonical_in_axes(raw_dims, avals, labels, "pmap")
        size = arguments.mapped_size(avals, dims, labels, self.axis_size, "pmap")
        if size == 0:  # XLA would fail with an internal error on a program of no replicas
            raise ValueError("pmap got a mapped axis of size 0: it runs one replica per element "
                             "of the mapped axis on a device of its own, so the axis needs at "
                             "least one element (for an empty batch, skip the call)")
        if any(f.kind == "pmap" for f in core.axis_env()):  # nested: runs on the outer's device
            if self.devices is not None:
                raise ValueError("Nested pmap with explicit devices argument.")  # JAX's words
            if process_count() > 1:
                raise NotImplementedError(
                    f"nested pmap ({self.name} inside another pmapped function) in a job of "
                    "several processes is not supported; map the inner axis with "
                    "vmap(..., axis_name=...) instead (collectives over both names work)")
        # fail early when the devices cannot hold the map; across processes the axis is global
        global_size = len(devices_for(size, self.devices))
        out_box = []

        def flat_fun(*flat):
            dyn_args, kwargs = tree_util.tree_unflatten(in_tree, flat)
            out = self.fun(*arguments.merge_static(split.static, dyn_args, nargs), **kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_box.append((out_tree, [core.get_aval(o).ndim for o in out_leaves]))
            return out_leaves

        def out_axes_of():
            out_tree, ranks = out_box[-1]
            dims = arguments.out_axes_per_leaf(self._out_spec.key, out_tree, "pmap")
            return [arguments.canonical_out_axis(d, r, i, "pmap")
                    for i, (d, r) in enumerate(zip(dims, ranks))]
        per_device = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                      for a, d in zip(avals, dims)]
        closed, out_dims = trace_per_device(flat_fun, self.axis_name, global_size, per_device,
                                            out_axes_of)
        donated = arguments.donated_leaves(in_tree, split.dyn_positions, nargs, self.argnums)
        return _Signature(self, closed, avals, dims, out_dims, out_box[-1][0], size, donated,
                          in_tree, labels)


class _Signature:
    """One traced signature: the per-device program, how arguments and results map, and (built
    on first use) its compiled program."""

    def __init__(self, pmapped, closed, avals, dims, out_dims, out_tree, size, donated,
                 in_tree, labels):
        self.pmapped, self.closed, self.avals, self.dims = pmapped, closed, avals, dims
        self.out_dims, self.out_tree, self.size, self.donated = out_dims, out_tree, size, donated
        self.in_tree, self.labels = in_tree, labels  # labels() names the leaves, for errors
        self.jaxpr, self.consts = closed_as_open(closed)
        self.closes_over_tracers = any(isinstance(c, Tracer) for c in self.consts)
        self.program_ok = not self.closes_over_tracers
        self._program = None

    def program(self, compiler_options: tuple = ()) -> PmapProgram:
        """The compiled program (with XLA `compiler_options`, a new one each time)."""
        if self._program is None or compiler_options:
            f = self.pmapped
            program = PmapProgram(self.closed, f.axis_name, devices_for(self.size, f.devices),
                                  self.avals, self.dims, self.out_dims, self.donated, f.name,
                                  compiler_options)
            if compiler_options:
                return program
            self._program = program
        return self._program
