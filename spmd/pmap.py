"""pmap: run one compiled program on several devices, one slice of the mapped axis each, with
named-axis collectives (spmd.lax.psum, ...) between them. The semantics are JAX's.

This module reads the arguments (static ones, in_axes, the mapped size, the devices) and keeps
the compiled programs; pmap_program.py traces, lowers and runs one signature. The cache is keyed
on the function object, not on the pmap wrapper, so a pmap re-created around the same function
(`for ...: pmap(step)(x)`) reuses the compiled program.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

from spmd.devices import devices_for
from spmd.pmap_primitive import bind_pmap
from spmd.pmap_program import PmapProgram, trace_per_device
from spmd.transforms import caches, core, tree_util
from spmd.transforms.array import Array
from spmd.transforms.batching import moveaxis
from spmd.transforms.core import Tracer
from spmd.transforms.staging import closed_as_open

_signatures = caches.LRUCache("pmap signatures")
_leaf_dims_cache = caches.LRUCache("pmap in_axes per leaf")


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

    Results are `spmd.Array`s that stay on their devices: a mapped result is stacked over them
    (`x[i]` is device i's part, `np.asarray(x)` gathers it) and feeds the next pmap with no
    copy. Executions in flight per device set are bounded (spmd/inflight.py), so a loop that
    never waits for its results cannot deadlock XLA's CPU collectives.
    """
    if fun is None:
        return functools.partial(pmap, axis_name=axis_name, in_axes=in_axes, out_axes=out_axes,
                                 static_broadcasted_argnums=static_broadcasted_argnums,
                                 devices=devices, backend=backend, axis_size=axis_size,
                                 donate_argnums=donate_argnums)
    if not callable(fun):
        raise TypeError(f"pmap expects a function to map, got {type(fun).__name__}: {fun!r:.60}")
    return PmapFunction(fun, axis_name, in_axes, out_axes, static_broadcasted_argnums, devices,
                        axis_size, donate_argnums)


class PmapFunction:
    """The mapped function. Calling it finds (or builds) the program for the arguments' types."""

    def __init__(self, fun, axis_name, in_axes, out_axes, static_argnums, devices, axis_size,
                 donate_argnums):
        functools.update_wrapper(self, fun)
        self.fun, self.axis_name, self.axis_size = fun, axis_name, axis_size
        self.in_axes = tuple(in_axes) if isinstance(in_axes, list) else in_axes
        self.out_axes = tuple(out_axes) if isinstance(out_axes, list) else out_axes
        _check_axes_spec(self.in_axes, "in_axes")
        _check_axes_spec(self.out_axes, "out_axes")
        self.static_argnums = _int_tuple(static_argnums, "static_broadcasted_argnums")
        self.donate_argnums = _int_tuple(donate_argnums, "donate_argnums")
        self.devices = None if devices is None else tuple(devices)
        self.name = getattr(fun, "__name__", "fun")
        self._arg_names = _arg_names(fun)
        # (avals of all-Array arguments) -> (program, output tree)
        self._by_avals = caches.LRUCache(f"pmap {self.name}")
        self._settings = (fun, axis_name, _spec_key(self.in_axes), _spec_key(self.out_axes),
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
        """The program for these arguments: `.as_text()` is its StableHLO module."""
        return _Lowered(self._signature(args, kwargs)[0].program())

    def __get__(self, obj, objtype=None):  # decorating methods
        return self if obj is None else functools.partial(self, obj)

    def _bind(self, sig, leaves):
        """Under grad/jvp/vmap (or with traced values closed over): the pmap primitive."""
        if any(f.kind == "pmap" for f in core.axis_env()):
            raise NotImplementedError(
                f"nested pmap ({self.name} inside another pmapped function) is not supported; "
                "map the inner axis with vmap(..., axis_name=...) instead (collectives over "
                "both names work), or use one pmap over all the devices")
        moved = [x if d in (None, 0) else moveaxis(x, d, 0) for x, d in zip(leaves, sig.dims)]
        outs = bind_pmap(list(sig.consts) + moved, sig.jaxpr,
                         [None] * len(sig.consts) + [None if d is None else 0 for d in sig.dims],
                         [None if d is None else 0 for d in sig.out_dims],
                         axis_name=self.axis_name, axis_size=sig.size,
                         devices=self.devices, name=self.name)
        return [o if d in (None, 0) else moveaxis(o, 0, d) for o, d in zip(outs, sig.out_dims)]

    # ---------------------------------------------------------------- the cache
    def _signature(self, args, kwargs):
        static, dyn_args = self._split(args)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, kwargs))
        dims = self._leaf_dims(in_tree, len(args))
        avals = tuple(x.aval if type(x) is Array else core.get_aval(x) for x in leaves)
        axes = tuple((f.name, f.size) for f in core.axis_env())  # under vmap: its names
        key = (self._settings, static, len(args), in_tree, avals, dims, axes)
        sig = _signatures.get(key)
        if sig is None:
            sig = self._trace(static, len(args), in_tree, avals, dims)
            if not sig.closes_over_tracers:
                _signatures[key] = sig
        return sig, leaves

    def _split(self, args):
        """(static arguments as (position, value) pairs, the other arguments)."""
        if not self.static_argnums:
            return (), args
        nargs = len(args)
        nums = {i % nargs for i in self.static_argnums if -nargs <= i < nargs}
        static = []
        for i in sorted(nums):
            try:
                hash(args[i])
            except TypeError:
                raise ValueError(f"pmap: static argument {i} (static_broadcasted_argnums) must be "
                                 f"hashable, but got an unhashable {type(args[i]).__name__}: "
                                 f"{args[i]!r:.60}. Pass a tuple instead of a list, or make it a "
                                 "mapped argument.") from None
            static.append((i, args[i]))
        return tuple(static), tuple(a for i, a in enumerate(args) if i not in nums)

    def _dyn_positions(self, nargs):
        nums = {i % nargs for i in self.static_argnums if -nargs <= i < nargs}
        return [i for i in range(nargs) if i not in nums]

    # ---------------------------------------------------------------- in_axes per leaf
    def _leaf_dims(self, in_tree, nargs) -> tuple:
        key = (self._settings[2], self.static_argnums, nargs, in_tree)
        dims = _leaf_dims_cache.get(key)
        if dims is None:
            dims = _leaf_dims_cache[key] = self._compute_leaf_dims(in_tree, nargs)
        return dims

    def _compute_leaf_dims(self, in_tree, nargs) -> tuple:
        positions = self._dyn_positions(nargs)
        dyn_ids, kw_ids = tree_util.tree_unflatten(in_tree, list(range(in_tree.num_leaves)))
        if isinstance(self.in_axes, tuple):
            if len(self.in_axes) != nargs:
                raise ValueError(f"pmap in_axes has {len(self.in_axes)} entries, but the function "
                                 f"was called with {nargs} positional arguments; give one entry "
                                 "per positional argument")
            specs = [self.in_axes[i] for i in positions]
        else:
            specs = [self.in_axes] * len(positions)
        dims = [0] * in_tree.num_leaves  # keyword arguments are mapped over axis 0
        for pos, spec, ids in zip(positions, specs, dyn_ids):
            for leaf_id, d in zip(tree_util.tree_leaves(ids),
                                  _spread(spec, ids, f"argument {pos}")):
                dims[leaf_id] = d
        return tuple(dims)

    # ---------------------------------------------------------------- a new signature
    def _trace(self, static, nargs, in_tree, avals, raw_dims):
        labels = self._leaf_labels(in_tree, nargs)
        dims = [None if d is None else _canonical_in_dim(d, a, lab)
                for d, a, lab in zip(raw_dims, avals, labels)]
        size = self._mapped_size(avals, dims, labels)
        # fail early when the devices cannot hold the map; across processes the axis is global
        global_size = len(devices_for(size, self.devices))
        out_box = []

        def flat_fun(*flat):
            dyn_args, kwargs = tree_util.tree_unflatten(in_tree, flat)
            it = iter(dyn_args)
            given = dict(static)
            full = [given[i] if i in given else next(it) for i in range(nargs)]
            out = self.fun(*full, **kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            out_box.append((out, out_tree, [core.get_aval(o).ndim for o in out_leaves]))
            return out_leaves

        def out_axes_of():
            out, out_tree, ranks = out_box[-1]
            return _out_dims(self.out_axes, out, ranks)
        per_device = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                      for a, d in zip(avals, dims)]
        closed, out_dims = trace_per_device(flat_fun, self.axis_name, global_size, per_device,
                                            out_axes_of)
        return _Signature(self, closed, avals, dims, out_dims, out_box[-1][1], size,
                          self._donated_leaves(in_tree, nargs))

    def _leaf_labels(self, in_tree, nargs) -> list[str]:
        """For error messages: which argument each leaf belongs to."""
        dyn_ids, kw_ids = tree_util.tree_unflatten(in_tree, list(range(in_tree.num_leaves)))
        labels = [""] * in_tree.num_leaves
        for pos, ids in zip(self._dyn_positions(nargs), dyn_ids):
            name = self._arg_names[pos] if pos < len(self._arg_names) else None
            for leaf_id in tree_util.tree_leaves(ids):
                labels[leaf_id] = f"argument {pos}" + (f" ({name})" if name else "")
        for name, ids in kw_ids.items():
            for leaf_id in tree_util.tree_leaves(ids):
                labels[leaf_id] = f"keyword argument {name!r}"
        return labels

    def _mapped_size(self, avals, dims, labels) -> int:
        seen: dict = {}  # label -> (size, axis) of its first mapped leaf with each size
        for a, d, lab in zip(avals, dims, labels):
            if d is not None:
                seen.setdefault((lab, a.shape[d]), d)
        sizes = {s for _, s in seen}
        if not sizes:
            if self.axis_size is None:
                raise ValueError("pmap needs at least one mapped argument (an in_axes entry that "
                                 "is not None) to know the size of the mapped axis, or axis_size=")
            return int(self.axis_size)
        if len(sizes) > 1:
            parts = [f"{lab} has size {s} along axis {d}" for (lab, s), d in seen.items()]
            raise ValueError("pmap got different sizes for the mapped axis: " + ", ".join(parts)
                             + ". Every mapped argument must have the same size along its "
                             "in_axes.")
        size = sizes.pop()
        if self.axis_size is not None and int(self.axis_size) != size:
            raise ValueError(f"pmap axis_size={self.axis_size}, but the mapped arguments have "
                             f"size {size} along the mapped axis")
        return size

    def _donated_leaves(self, in_tree, nargs) -> list[bool]:
        if not self.donate_argnums:
            return [False] * in_tree.num_leaves
        donate = {i % nargs for i in self.donate_argnums if -nargs <= i < nargs}
        dyn_ids, _ = tree_util.tree_unflatten(in_tree, list(range(in_tree.num_leaves)))
        flags = [False] * in_tree.num_leaves
        for pos, ids in zip(self._dyn_positions(nargs), dyn_ids):
            for leaf_id in tree_util.tree_leaves(ids):
                flags[leaf_id] = pos in donate
        return flags


class _Signature:
    """One traced signature: the per-device program, how arguments and results map, and (built
    on first use) its compiled program."""

    def __init__(self, pmapped, closed, avals, dims, out_dims, out_tree, size, donated):
        self.pmapped, self.closed, self.avals, self.dims = pmapped, closed, avals, dims
        self.out_dims, self.out_tree, self.size, self.donated = out_dims, out_tree, size, donated
        self.jaxpr, self.consts = closed_as_open(closed)
        self.closes_over_tracers = any(isinstance(c, Tracer) for c in self.consts)
        self.program_ok = not self.closes_over_tracers
        self._program = None

    def program(self) -> PmapProgram:
        if self._program is None:
            f = self.pmapped
            self._program = PmapProgram(self.closed, f.axis_name, devices_for(self.size, f.devices),
                                        self.avals, self.dims, self.out_dims, self.donated, f.name)
        return self._program


class _Lowered:
    def __init__(self, program: PmapProgram):
        self._program = program

    def as_text(self) -> str:
        return self._program.text

    def compile(self) -> PmapProgram:
        return self._program


# ---------------------------------------------------------------- axes specifications
def _check_axes_spec(spec, what):
    for leaf in tree_util.tree_leaves(spec, is_leaf=lambda x: x is None):
        if leaf is not None and (not isinstance(leaf, int) or isinstance(leaf, bool)):
            raise TypeError(f"pmap {what} entries must be ints or None, got {leaf!r} in "
                            f"{what}={spec!r}")


def _spec_key(spec):
    leaves, tree = tree_util.tree_flatten(spec, is_leaf=lambda x: x is None)
    return tuple(leaves), tree


def _spread(spec, tree, where) -> list:
    """One axis per leaf of `tree` from `spec`: an int or None, or a pytree prefix of `tree`."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree_util.tree_leaves(tree))
    prefix = tree_util.tree_structure(spec, is_leaf=lambda x: x is None)
    try:
        subtrees = tree_util.flatten_up_to(prefix, tree)
    except ValueError as e:
        raise ValueError(f"pmap axes {spec!r} for {where} are not a prefix of its structure "
                         f"{tree_util.tree_structure(tree)}: {e}") from None
    out = []
    for p, sub in zip(tree_util.tree_leaves(spec, is_leaf=lambda x: x is None), subtrees):
        out += [p] * len(tree_util.tree_leaves(sub))
    return out


def _canonical_in_dim(d, aval, label):
    if aval.ndim == 0:
        raise ValueError(f"pmap cannot map {label}: it is a scalar (shape ()), and in_axes={d} "
                         "asks for an axis to split over the devices. Give it in_axes=None to "
                         "pass the same value to every device, or pass an array with a leading "
                         "axis of one entry per device.")
    if not -aval.ndim <= d < aval.ndim:
        raise ValueError(f"pmap in_axes={d} is out of range for {label} of shape {aval.shape}")
    return d % aval.ndim


def _out_dims(out_axes, out, ranks) -> list:
    dims = _spread(out_axes, out, "the outputs")
    result = []
    for d, r in zip(dims, ranks):
        if d is not None:
            if not -(r + 1) <= d <= r:
                raise ValueError(f"pmap out_axes={d} is out of range for an output of rank {r} "
                                 f"(the mapped axis can go at positions {-(r + 1)}..{r})")
            d %= r + 1
        result.append(d)
    return result


def _int_tuple(x, what) -> tuple:
    x = (x,) if isinstance(x, int) else tuple(x or ())
    for i in x:
        if not isinstance(i, int):
            raise TypeError(f"pmap {what} must be ints, got {x!r}")
    return x


def _arg_names(fun) -> list:
    try:
        params = inspect.signature(fun).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
