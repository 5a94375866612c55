"""A transformed function's arguments, read in one place for jit, vmap, pmap, make_jaxpr and
grad: static and donated argument numbers and names, the split of static from dynamic
arguments, in_axes/out_axes prefixes flattened against the arguments' pytrees, the labels that
name an argument in an error, and the size of the mapped axis. Every transform raises the same
words for the same misuse; `transform` ("jit", "vmap", "pmap", ...) leads each message.

Nothing here runs on a jitted function's fast path (a repeat call with device arrays): these
are construction-time checks and the work of a new signature.
"""
from __future__ import annotations

import collections
import inspect
import operator
from typing import Callable, NamedTuple

from spmd.transforms import backend as _backend
from spmd.transforms import caches, tree_util

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


# ---------------------------------------------------------------- the function itself
def check_callable(fun, transform: str) -> None:
    if not callable(fun):
        raise TypeError(f"{transform} expected a callable value, got {type(fun).__name__}: "
                        f"{fun!r:.60}. Pass the function to transform.")


def check_backend(backend, transform: str) -> None:
    """`backend=` names the platform to run on: None (the default) or one that is present."""
    if backend is None:
        return
    platforms = sorted({d.platform for d in _backend.devices()})
    if backend not in platforms:
        raise RuntimeError(f"{transform}: unknown backend: {backend!r} requested, but no "
                           f"platforms that are instances of {backend} are present. Platforms "
                           f"present are: {', '.join(platforms)}. Pass backend=None or one of "
                           "those.")


def signature_or_none(fun):
    """The signature, or None for callables without one (some builtins), as JAX allows."""
    try:
        return inspect.signature(fun)
    except (TypeError, ValueError):
        return None


def positional_names(fun) -> list[str]:
    """The names of `fun`'s positional parameters, for error messages ([] when unknown)."""
    sig = signature_or_none(fun)
    return [] if sig is None else [p.name for p in sig.parameters.values() if p.kind in _POSITIONAL]


def fun_name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


# ---------------------------------------------------------------- argnums and argnames
def index_tuple(x, what: str, transform: str) -> tuple[int, ...]:
    """`x` (None, an int or a sequence of ints) as a tuple of ints."""
    if x is None:
        return ()
    try:
        return (operator.index(x),) if not isinstance(x, (tuple, list)) else tuple(
            operator.index(i) for i in x)
    except TypeError:
        raise TypeError(f"{transform} {what} must be an int or a sequence of ints, but got "
                        f"{what}={x!r}") from None


def name_tuple(x, what: str, transform: str) -> tuple[str, ...]:
    """`x` (None, a str or a sequence of strs) as a tuple of strs."""
    if x is None:
        return ()
    names = (x,) if isinstance(x, str) else tuple(x)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{transform} {what} must be a str or a sequence of strs, but got "
                        f"{what}={x!r}")
    return names


class Argnums(NamedTuple):
    """Which arguments are static and which donated, by position and by name. Positions may be
    negative (counting from the end of the call's positional arguments)."""
    static_nums: tuple = ()
    static_names: tuple = ()
    donate_nums: tuple = ()
    donate_names: tuple = ()


def resolve_argnums(fun, transform: str, *, static_argnums=None, static_argnames=None,
                    donate_argnums=None, donate_argnames=None,
                    static_what: str = "static_argnums") -> Argnums:
    """Normalise and check the static/donated arguments of `fun` as JAX's jit does: when only
    the numbers (or only the names) are given, the other follows from the signature; numbers
    past the positional parameters and names the function does not take are errors; an
    argument cannot be both static and donated."""
    sig = signature_or_none(fun)
    static = _infer(sig, index_tuple(static_argnums, static_what, transform),
                    name_tuple(static_argnames, "static_argnames", transform),
                    static_argnums is None, static_argnames is None)
    donate = _infer(sig, index_tuple(donate_argnums, "donate_argnums", transform),
                    name_tuple(donate_argnames, "donate_argnames", transform),
                    donate_argnums is None, donate_argnames is None)
    if sig is not None:
        _check_nums(sig, static[0], static_what, transform, fun)
        _check_names(sig, static[1], "static_argnames", transform, fun)
        _check_nums(sig, donate[0], "donate_argnums", transform, fun)
        _check_names(sig, donate[1], "donate_argnames", transform, fun)
    elif donate_argnames is not None:
        raise ValueError(f"{transform} could not read the signature of {fun_name(fun)}, so "
                         "donate_argnames cannot be matched to positions; pass donate_argnums "
                         "instead")
    for what, a, donated, b in ((static_what, static[0], "donate_argnums", donate[0]),
                                ("static_argnames", static[1], "donate_argnames", donate[1])):
        if set(a) & set(b):
            raise ValueError(f"{transform} {what}={a} and {donated}={b} cannot intersect: a "
                             "static argument is a Python value, not a buffer to donate")
    return Argnums(static[0], static[1], donate[0], donate[1])


def _infer(sig, nums, names, nums_missing, names_missing):
    """(nums, names) with the missing one read off the signature, as JAX's
    infer_argnums_and_argnames: only positional-or-keyword parameters have both."""
    if sig is None or (nums_missing and names_missing) or not (nums_missing or names_missing):
        return nums, names
    params = list(sig.parameters.items())
    if nums_missing:
        nums = tuple(i for i, (k, p) in enumerate(params)
                     if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and k in names)
    else:
        n_pos = sum(p.kind in _POSITIONAL for _, p in params)
        wanted = {i % n_pos for i in nums if -n_pos <= i < n_pos} if n_pos else set()
        names = tuple(k for i, (k, p) in enumerate(params)
                      if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and i in wanted)
    return nums, names


def _check_nums(sig, nums, what, transform, fun):
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return  # any number of positional arguments
    n_pos = sum(p.kind in _POSITIONAL for p in params)
    bad = [i for i in nums if not -n_pos <= i < n_pos]
    if bad:
        raise ValueError(f"{transform} got {what}={nums}, but {fun_name(fun)} only accepts "
                         f"{n_pos} positional argument{'s' if n_pos != 1 else ''}: argument "
                         f"numbers must be in -{n_pos}..{n_pos - 1}")


def _check_names(sig, names, what, transform, fun):
    params = sig.parameters
    positional_only = sorted(n for n in names if n in params
                             and params[n].kind is inspect.Parameter.POSITIONAL_ONLY)
    if positional_only:
        raise ValueError(f"{transform} got {what} {positional_only}, but these parameters of "
                         f"{fun_name(fun)} are positional-only; name them by number instead")
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(n for n in names if n not in params or params[n].kind not in _BY_NAME)
    if unknown:
        raise ValueError(f"{transform} got {what} {unknown}, but {fun_name(fun)} does not take "
                         f"arguments of these names (it takes {list(params)})")


# ---------------------------------------------------------------- static and dynamic
class Split(NamedTuple):
    """A call's arguments with the static ones taken out: `static` and `static_kw` are hashable
    (position, value) and (name, value) pairs, part of a cache key."""
    static: tuple
    static_kw: tuple
    dyn_args: tuple
    dyn_kwargs: dict
    dyn_positions: tuple


def split_static(args, kwargs, static_nums, static_names, transform: str,
                 what: str = "static_argnums", fun=None) -> Split:
    """Take the static arguments out of a call. Static numbers past the call's positional
    arguments are ignored (an optional parameter left at its default), as in JAX's jit."""
    nargs = len(args)
    nums = sorted({i % nargs for i in static_nums if -nargs <= i < nargs}) if nargs else []
    static = tuple((i, _hashable(args[i], f"{i}", what, transform, fun)) for i in nums)
    if static_names and kwargs:
        static_kw = tuple(sorted((k, _hashable(v, repr(k), "static_argnames", transform, fun))
                                 for k, v in kwargs.items() if k in static_names))
        kwargs = {k: v for k, v in kwargs.items() if k not in static_names}
    else:
        static_kw = ()
    if not nums:
        return Split(static, static_kw, tuple(args), kwargs, tuple(range(nargs)))
    positions = tuple(i for i in range(nargs) if i not in nums)
    return Split(static, static_kw, tuple(args[i] for i in positions), kwargs, positions)


def _hashable(value, where, what, transform, fun):
    try:
        hash(value)
    except TypeError:
        of = f" of {fun_name(fun)}" if fun is not None else ""
        raise ValueError(f"{transform} static argument {where} ({what}){of} must be hashable, "
                         f"as it keys the cache of compiled programs, but got an unhashable "
                         f"{type(value).__name__}: {value!r:.80}. Pass a tuple instead of a "
                         "list, or make the argument non-static.") from None
    return value


def merge_static(static, dyn_args, nargs: int) -> list:
    """The full positional argument list from the static pairs and the dynamic arguments."""
    if not static:
        return list(dyn_args)
    given = dict(static)
    it = iter(dyn_args)
    return [given[i] if i in given else next(it) for i in range(nargs)]


def donated_leaves(in_tree, dyn_positions, nargs: int, argnums: Argnums) -> list[bool]:
    """One flag per leaf of `in_tree` (the (dynamic args, kwargs) structure): whether the
    argument it belongs to is donated, by number or by name."""
    if not (argnums.donate_nums or argnums.donate_names):
        return [False] * in_tree.num_leaves
    args_tree, kwargs_tree = tree_util.treedef_children(in_tree)
    nums = {i % nargs for i in argnums.donate_nums if -nargs <= i < nargs} if nargs else set()
    flags = []
    for pos, sub in zip(dyn_positions, tree_util.treedef_children(args_tree)):
        flags += [pos in nums] * sub.num_leaves
    for name, sub in _keyword_subtrees(kwargs_tree):
        flags += [name in argnums.donate_names] * sub.num_leaves
    return flags


def _node(treedef):
    """(node type, aux data, children) of a structure's root; (None, None, []) for a leaf."""
    data = treedef.node_data()
    if data is None:
        return None, None, []
    node_type, aux = data
    return node_type, tuple(aux) if node_type is dict else aux, tree_util.treedef_children(treedef)


def _keyword_subtrees(kwargs_tree):
    """(name, structure) of each keyword argument, from the kwargs dict's structure."""
    _, names, children = _node(kwargs_tree)
    return zip(names or (), children)


# ---------------------------------------------------------------- argnums of derivatives
def argnums_tuple(argnums, nargs: int) -> tuple[int, ...]:
    """`argnums` of grad/jacfwd/... (an int or a non-empty sequence of ints, negative counting
    from the end) as non-negative positions, checked against the call's positional arguments."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(a, int) for a in nums):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"Differentiating with respect to argnums={argnums} requires at "
                             f"least {max(a + 1, -a)} positional arguments to be passed by the "
                             f"caller, but got only {nargs} positional arguments.")
    return tuple(a % nargs for a in nums)


def partial_args(fun: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...]):
    """`fun` as a function of the arguments at positions `nums` only (the rest fixed)."""
    # the values at `nums` are replaced at every call: not kept, so that a traced value passed
    # there does not outlive its trace in a staged program's params (check_tracer_leaks)
    args = tuple(None if i in nums else a for i, a in enumerate(args))

    def partial_fun(*diff_args):
        full = list(args)
        for i, a in zip(nums, diff_args):
            full[i] = a
        return fun(*full, **kwargs)
    return partial_fun


# ---------------------------------------------------------------- in_axes and out_axes
def _is_axis(d) -> bool:
    return d is None or (isinstance(d, int) and not isinstance(d, bool))


def _none_is_leaf(x) -> bool:
    return x is None


class AxesSpec(NamedTuple):
    """An in_axes/out_axes value, checked, with a hashable form (its leaves and structure)."""
    spec: object
    leaves: tuple
    tree: object

    @property
    def key(self):
        return self.leaves, self.tree


def axes_spec(spec, what: str, transform: str, *, per_argument: bool = False) -> AxesSpec:
    """Check an in_axes (`per_argument`: an int, None or a tuple with one entry per positional
    argument; a top-level list reads as that tuple) or out_axes value."""
    if per_argument and isinstance(spec, list):
        spec = tuple(spec)
    if per_argument and not (_is_axis(spec) or isinstance(spec, tuple)):
        raise TypeError(f"{transform} {what} must be an int, None, or a tuple of entries "
                        "corresponding to the positional arguments passed to the function, but "
                        f"got {what}={spec!r}")
    leaves, tree = tree_util.tree_flatten(spec, is_leaf=_none_is_leaf)
    if not all(_is_axis(d) for d in leaves):
        raise TypeError(f"{transform} {what} must be an int, None, or (nested) container with "
                        f"those types as leaves, but got {what}={spec!r}")
    return AxesSpec(spec, tuple(leaves), tree)


@caches.cached
def in_axes_per_leaf(spec_key, in_tree, dyn_positions: tuple, nargs: int,
                     transform: str) -> tuple:
    """One axis (int or None) per leaf of `in_tree`, the (dynamic args, kwargs) structure:
    in_axes is an int/None for every argument or a tuple with one entry (a prefix of that
    argument) per positional argument, static ones included; keyword arguments map axis 0."""
    spec = tree_util.tree_unflatten(spec_key[1], spec_key[0])
    args_tree, kwargs_tree = tree_util.treedef_children(in_tree)
    if isinstance(spec, tuple) and len(spec) != nargs:
        raise ValueError(f"{transform} in_axes must be an int, None, or a tuple of entries "
                         "corresponding to the positional arguments passed to the function, but "
                         f"got len(in_axes)={len(spec)}, len(args)={nargs}" + (
                             ". When some arguments are passed by keyword, they are not included "
                             "in the comparison to `in_axes`: each argument passed by keyword is "
                             "mapped over its leading axis" if kwargs_tree.num_leaves else ""))
    dims: list = []
    for k, (pos, sub) in enumerate(zip(dyn_positions, tree_util.treedef_children(args_tree))):
        entry = spec[pos] if isinstance(spec, tuple) else spec
        # JAX's pmap compares (in_axes, 0) with (dynamic args, kwargs): its paths start at [0]
        path = f"[0][{k}]" if transform == "pmap" else f"[{pos}]"
        dims += _broadcast(entry, sub, f"{transform} in_axes", path,
                           "the tuple of positional arguments (keyword arguments are always "
                           "mapped along axis 0)")
    return tuple(dims) + (0,) * kwargs_tree.num_leaves


@caches.cached
def out_axes_per_leaf(spec_key, out_tree, transform: str) -> tuple:
    """One axis (int or None) per leaf of the output structure `out_tree`."""
    spec = tree_util.tree_unflatten(spec_key[1], spec_key[0])
    return tuple(_broadcast(spec, out_tree, f"{transform} out_axes", "", "the function's output"))


def _is_sharding(s) -> bool:
    """A leaf of an in_shardings/out_shardings prefix: None (unspecified), a Sharding or a
    PartitionSpec (spmd's classes, above this module, are known by their attributes)."""
    return s is None or hasattr(s, "devices_indices_map") or hasattr(s, "axis_names_of")


def shardings_per_leaf(prefix, treedef, name: str) -> list:
    """One sharding (or None) per leaf of `treedef`, from a pytree prefix of shardings."""
    return _broadcast(prefix, treedef, name, "", "the value", _is_sharding)


def in_shardings_per_leaf(prefix, in_tree, dyn_positions: tuple, nargs: int) -> list:
    """jit's in_shardings (one sharding for every argument, or a tuple with one prefix per
    positional argument, static ones included or not) as one per leaf of the (dynamic args,
    kwargs) structure; keyword arguments are unspecified."""
    args_tree, kwargs_tree = tree_util.treedef_children(in_tree)
    subtrees = tree_util.treedef_children(args_tree)
    if isinstance(prefix, list):
        prefix = tuple(prefix)
    if isinstance(prefix, tuple):
        if len(prefix) == nargs:
            prefix = tuple(prefix[p] for p in dyn_positions)
        elif len(prefix) != len(subtrees):
            raise ValueError(f"jit in_shardings must be a Sharding, a PartitionSpec, None, or a "
                             f"tuple with one entry per positional argument, but got "
                             f"len(in_shardings)={len(prefix)} for {nargs} positional arguments")
    out: list = []
    for k, sub in enumerate(subtrees):
        entry = prefix[k] if isinstance(prefix, tuple) else prefix
        out += _broadcast(entry, sub, "jit in_shardings", f"[{k}]",
                          "the tuple of positional arguments", _is_sharding)
    return out + [None] * kwargs_tree.num_leaves


def _broadcast(prefix, treedef, name: str, path: str, whole: str, is_leaf=_is_axis) -> list:
    """`prefix` (an axis, or a pytree of axes that is a prefix of `treedef`) as one axis per
    leaf of `treedef`; a mismatch names its key path in the words of JAX's prefix errors.
    `is_leaf` tells the prefix's leaves (axes by default; shardings for jit's shardings)."""
    if is_leaf(prefix):
        return [prefix] * treedef.num_leaves
    children, prefix_tree = tree_util.tree_flatten(prefix, is_leaf=lambda x: x is not prefix)
    full_type, full_aux, full_children = _node(treedef)
    mismatch = _node_mismatch(prefix, _node(prefix_tree)[1], len(children), treedef, name)
    if mismatch:
        kind, detail = mismatch
        raise ValueError(f"{name} specification must be a tree prefix of the corresponding "
                         f"value; pytree structure error: {kind} at key path\n    {name}{path}\n"
                         f"At that key path, the prefix pytree {name} {detail}. "
                         f"Make {name} a tree prefix of {whole}.")
    out: list = []
    for i, (child, sub) in enumerate(zip(children, full_children)):
        out += _broadcast(child, sub, name, path + _key(full_type, full_aux, i), whole, is_leaf)
    return out


def _node_mismatch(prefix, prefix_aux, num_children, treedef, name) -> tuple | None:
    """(JAX's name for the kind of mismatch, what differs) at the root, or None."""
    full_type, full_aux, full_children = _node(treedef)
    if full_type is not type(prefix):
        full = "a leaf" if full_type is None else f"a subtree of different type {full_type}"
        return ("different types", f"has a subtree of type {type(prefix)}, but at the same key "
                                   f"path the full pytree has {full} ({treedef})")
    kind = full_type.__name__
    if num_children != len(full_children):
        if isinstance(prefix, (list, tuple)):
            return (f"different lengths of {kind}",
                    f"has a subtree of type {kind} of length {num_children}, but the full pytree "
                    f"has a subtree of the same type but of length {len(full_children)}")
        return ("different numbers of pytree children",
                f"has a subtree of type {kind} with {num_children} child keys "
                f"{list(prefix_aux or ())}, but at the same key path the full pytree has a "
                f"subtree of the same type but with {len(full_children)} child keys "
                f"{list(full_aux or ())}")
    if prefix_aux != full_aux:
        return ("different pytree metadata",
                f"has a subtree of type {kind} with keys {list(prefix_aux or ())}, but at the "
                f"same key path the full pytree has a subtree of the same type but with keys "
                f"{list(full_aux or ())}")
    return None


def _key(node_type, aux, i: int) -> str:
    """The key path step to child `i`, written as JAX's keystr writes it."""
    if node_type is dict:
        return f"[{aux[i]!r}]"
    fields = getattr(node_type, "_fields", None)
    return f".{fields[i]}" if fields else f"[{i}]"


# ---------------------------------------------------------------- labels and mapped sizes
def leaf_labels(in_tree, dyn_positions, arg_names) -> list[str]:
    """For each leaf of `in_tree` (the (dynamic args, kwargs) structure), the argument it
    belongs to and where in it: "argument 0 (params)['w']", "keyword argument 'y'"."""
    args_tree, kwargs_tree = tree_util.treedef_children(in_tree)
    labels: list = []
    for pos, sub in zip(dyn_positions, tree_util.treedef_children(args_tree)):
        name = arg_names[pos] if pos < len(arg_names) else None
        labels += [f"argument {pos}" + (f" ({name})" if name else "") + p for p in _paths(sub)]
    for key, sub in _keyword_subtrees(kwargs_tree):
        labels += [f"keyword argument {key!r}" + p for p in _paths(sub)]
    return labels


def _paths(treedef, prefix: str = "") -> list[str]:
    node_type, aux, children = _node(treedef)
    if node_type is None:
        return [prefix]
    out: list = []
    for i, sub in enumerate(children):
        out += _paths(sub, prefix + _key(node_type, aux, i))
    return out


def canonical_in_axes(dims, avals, labels: Callable[[], list], transform: str) -> list:
    """The in_axes per leaf made non-negative, checked against each leaf's rank. `labels` is
    called only to word an error."""
    out = []
    for i, (d, aval) in enumerate(zip(dims, avals)):
        if d is not None:
            if not -aval.ndim <= d < aval.ndim:
                raise ValueError(
                    f"{transform} was requested to map {labels()[i]} along axis {d}, which "
                    f"implies that its rank should be at least {d + 1 if d >= 0 else -d}, but it "
                    f"is only {aval.ndim} (its shape is {aval.shape}). Give it an in_axes entry "
                    "of None to pass it unmapped, or an axis it has.")
            d %= aval.ndim
        out.append(d)
    return out


def canonical_out_axis(d, ndim: int, index: int, transform: str):
    """An out_axes entry indexes the mapped output, which has one more axis than the
    function's output."""
    if d is None:
        return None
    if not -(ndim + 1) <= d <= ndim:
        raise ValueError(f"{transform} out_axes={d} is out of range for output {index}: the "
                         f"function returns rank {ndim} there, so the mapped output has "
                         f"{ndim + 1} axes (valid out_axes: {-(ndim + 1)} to {ndim})")
    return d % (ndim + 1)


def mapped_size(avals, dims, labels: Callable[[], list], axis_size, transform: str) -> int:
    """The size of the mapped axis: the one size every mapped leaf has along its axis (and
    axis_size, when given). `labels` is called only to word an error."""
    sizes = [None if d is None else a.shape[d] for a, d in zip(avals, dims)]
    distinct = {s for s in sizes if s is not None}
    if not distinct:
        if axis_size is None:
            raise ValueError(f"{transform} must have at least one non-None value in in_axes, or "
                             "be given axis_size")
        return int(axis_size)
    if len(distinct) > 1:
        raise ValueError(_inconsistent_sizes(avals, dims, sizes, labels(), transform))
    size = distinct.pop()
    if axis_size is not None and int(axis_size) != size:
        raise ValueError(f"{transform} got axis_size={axis_size} but the mapped inputs have size "
                         f"{size} along the mapped axis; leave axis_size out or make them agree")
    return size


def _inconsistent_sizes(avals, dims, sizes, labels, transform) -> str:
    """JAX's wording: one line per size, most common first, with an example argument each."""
    counts = collections.Counter(s for s in sizes if s is not None).most_common()
    lines = []
    for rank, (size, count) in enumerate(counts):
        i = sizes.index(size)
        where = f"axis {dims[i]} of {labels[i]} of type {avals[i].str_short()}"
        if count == 1:
            lines.append(f"one axis had size {size}: {where}")
        else:
            many = "most axes" if rank == 0 else "some axes"
            lines.append(f"{many} ({count} of them) had size {size}, e.g. {where}")
    return (f"{transform} got inconsistent sizes for array axes to be mapped:\n  * "
            + ";\n  * ".join(lines) + ". Every mapped argument must have the same size along "
            "its in_axes.")


def labels_for(fun, in_tree, dyn_positions) -> Callable[[], list]:
    """A thunk giving `leaf_labels` for a call, so that the signature is read only for an
    error."""
    return lambda: leaf_labels(in_tree, dyn_positions, positional_names(fun))
