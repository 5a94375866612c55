"""`shard_map(f, mesh=, in_specs=, out_specs=, axis_names=, check_vma=)` (JAX's jax.shard_map):
`f` written per device, run on every device of a mesh on its block of each argument, with the
collectives of spmd.lax over the mesh's axis names. The checks and the argument handling live
here; the primitive and its rules in spmd/shard_map_primitive.py, the replication check of
check_vma in spmd/shard_map_vma.py."""
from __future__ import annotations

import functools

from spmd.shard_map_primitive import bind_shard_map, block_aval, stage_body
from spmd.shard_map_vma import check_out_replication
from spmd.transforms import caches, core, tree_util
from spmd.transforms.arguments import shardings_per_leaf
from spmd.transforms.jit import jit
from spmd.transforms.mesh import AxisType, Mesh, get_mesh
from spmd.transforms.named_sharding import NamedSharding, check_fits
from spmd.transforms.partition_spec import PartitionSpec
from spmd.transforms.partitioned_jit import traced_sharding


class _Infer:
    """in_specs not given: read from the arguments' shardings (Explicit mesh axes only)."""
    __slots__ = ()

    def __repr__(self):
        return "Infer"


Infer = _Infer()


def shard_map(f=None, /, *, out_specs, in_specs=Infer, mesh=None, axis_names=frozenset(),
              check_vma: bool = True):
    """Map `f` over the blocks of its arguments on the devices of `mesh` (default: the current
    mesh, `spmd.set_mesh`). `in_specs`/`out_specs`: PartitionSpecs, pytree prefixes of the
    arguments tuple and of `f`'s result; an axis a spec names splits that dimension, an axis it
    leaves out means the value is the same on all devices along it (for an output: a promise,
    checked when `check_vma`). `axis_names`: the mesh axes `f` is manual over (default: all).
    Called outside jit it is jitted for the mesh, as in JAX. Without `f`, a decorator."""
    kwargs = dict(mesh=mesh, in_specs=in_specs, out_specs=out_specs, axis_names=axis_names,
                  check_vma=check_vma)
    if f is None:
        return lambda g: _shard_map(g, **kwargs)
    return _shard_map(f, **kwargs)


def _shard_map(f, *, mesh, in_specs, out_specs, axis_names, check_vma):
    if not callable(f):
        raise TypeError(f"shard_map requires a callable for its first argument, but got {f!r} "
                        f"of type {type(f).__name__}")

    if in_specs is None:
        raise TypeError("shard_map in_specs must be a pytree of PartitionSpecs, but it was None; "
                        "did you mean in_specs=P() (every argument the same on all devices)? "
                        "(None as a leaf of in_specs marks a static argument)")

    @functools.wraps(f)
    def wrapped(*args):
        the_mesh, manual = _checks(mesh, axis_names, in_specs)
        if in_specs is not Infer:
            static = _static_split(f, in_specs, args, dict(
                mesh=mesh, out_specs=out_specs, axis_names=axis_names, check_vma=check_vma))
            if static is not None:
                inner, dynamic = static
                return inner(*dynamic)
        if core.current_trace() is not core.eval_trace:  # inside jit or a transform
            return _apply(f, the_mesh, manual, in_specs, out_specs, check_vma, args)
        specs = in_specs
        if specs is Infer:  # read now: inside the jit below the arguments are tracers
            leaves, tree = tree_util.tree_flatten(args)
            specs = tree_util.tree_unflatten(tree, [_inferred_spec(x, manual) for x in leaves])
        _blocks(the_mesh, manual, specs, args)  # its errors before jit's own
        for spec in tree_util.tree_leaves(out_specs, is_leaf=_is_spec):
            _check_spec(spec, the_mesh, manual, "out_specs")
        return _outer_jit(wrapped, f, the_mesh, manual, specs, out_specs, check_vma)(*args)
    return wrapped


_outer_jits = caches.LRUCache("shard_map called outside jit")
_without_static = caches.LRUCache("shard_map with static arguments")


def _static_split(f, in_specs, args, kwargs):
    """A None leaf of in_specs marks a static argument (JAX): `f` gets it as it is, untraced.
    Returns (a shard_map over the other leaves with the static ones closed over, those leaves),
    or None when no argument is static."""
    leaves, tree = tree_util.tree_flatten(args)
    specs = shardings_per_leaf(in_specs, tree, "shard_map in_specs")
    if all(s is not None for s in specs):
        return None
    static = tuple((i, x) for i, (x, s) in enumerate(zip(leaves, specs)) if s is None)
    dynamic = [x for x, s in zip(leaves, specs) if s is not None]
    try:  # the same static values reuse one shard_map (and its compiled program)
        key = (f, tree, static, tuple(specs), tuple(sorted(kwargs.items(), key=str)))
        hash(key)
    except TypeError:
        key = None
    found = None if key is None else _without_static.get(key)
    if found is None:
        def with_static(*dyn):
            fixed, it = dict(static), iter(dyn)
            return f(*tree_util.tree_unflatten(
                tree, [fixed[i] if i in fixed else next(it) for i in range(len(leaves))]))
        with_static.__name__ = getattr(f, "__name__", "shard_map")
        found = _shard_map(with_static, in_specs=tuple(s for s in specs if s is not None),
                           **kwargs)
        if key is not None:
            _without_static[key] = found
    return found, dynamic


def _outer_jit(wrapped, f, mesh, manual, in_specs, out_specs, check_vma):
    """The jit that runs a shard_map called outside jit (as JAX does): its arguments and
    results laid out as the specs say (arguments laid out otherwise are moved first)."""
    leaves, tree = tree_util.tree_flatten(in_specs, is_leaf=_is_spec)
    key = (wrapped, mesh, tuple(leaves), tree)
    found = _outer_jits.get(key)
    if found is None:
        def on_mesh(spec):
            return spec if spec is None else NamedSharding(mesh, spec)
        shard = functools.partial(tree_util.tree_map, on_mesh, is_leaf=_is_spec)

        def call(*args):
            return _apply(f, mesh, manual, in_specs, out_specs, check_vma, args)
        call.__name__ = getattr(f, "__name__", "shard_map")
        # jit reads in_shardings as shard_map reads in_specs: a prefix of the arguments tuple
        found = _outer_jits[key] = jit(call, in_shardings=shard(in_specs),
                                       out_shardings=shard(out_specs))
    return found


def _is_spec(s) -> bool:
    return s is None or isinstance(s, PartitionSpec)


def _checks(mesh, axis_names, in_specs):
    """(the mesh, its manual axes in mesh order), checked as JAX checks them."""
    if mesh is None:
        mesh = get_mesh()
        if mesh is None:
            raise ValueError("shard_map needs a mesh: pass mesh=, or call it under "
                             "`with spmd.set_mesh(mesh):`")
    if not isinstance(mesh, Mesh):
        raise TypeError(f"shard_map requires an spmd.sharding.Mesh for its mesh argument, "
                        f"but got {mesh!r} of type {type(mesh).__name__}")
    if not isinstance(axis_names, (set, frozenset)):
        raise TypeError(f"shard_map's axis_names must be a set or frozenset of mesh axis "
                        f"names, got {type(axis_names).__name__}")
    names = frozenset(axis_names) or frozenset(mesh.axis_names)
    if not names <= frozenset(mesh.axis_names):
        raise ValueError(f"shard_map requires axis_names={set(names)} to be a subset of the "
                         f"mesh's axis names {mesh.axis_names}")
    manual = tuple(a for a in mesh.axis_names if a in names)
    if in_specs is Infer and any(mesh.axis_types[mesh.axis_names.index(a)]
                                 is not AxisType.Explicit for a in manual):
        kinds = ", ".join(mesh.axis_types[mesh.axis_names.index(a)].name for a in manual)
        raise TypeError(f"shard_map's in_specs must be given (a pytree of PartitionSpecs) when "
                        f"the mesh axes {manual} are of type {kinds}: only Explicit axes let "
                        "shard_map read them from the arguments")
    return mesh, manual


def _label(path) -> str:
    return "args" + tree_util.keystr(path)


def _check_spec(spec, mesh, manual, what: str) -> PartitionSpec:
    if not isinstance(spec, PartitionSpec):
        raise TypeError(f"shard_map {what}: expected a PartitionSpec, got {spec!r} of type "
                        f"{type(spec).__name__}")
    seen = set()
    for name in spec.used_axis_names():
        if name not in mesh.shape:
            raise ValueError(f"shard_map {what}: {spec} names mesh axis {name!r}, which the "
                             f"mesh lacks (its axes are {mesh.axis_names}); use one of those")
        if name not in manual:
            raise ValueError(f"shard_map {what}: {spec} names mesh axis {name!r}, which is not "
                             f"among axis_names {set(manual)}; a spec can only split over "
                             "the manual axes")
        if name in seen:
            raise ValueError(f"shard_map {what}: {spec} uses mesh axis {name!r} twice")
        seen.add(name)
    return spec


def _inferred_spec(x, manual) -> PartitionSpec:
    """JAX reads an unspecified in_spec from the argument's sharding (its manual axes); inside
    jit, from the sharding of the jit's argument `x` stands for (else replicated)."""
    sharding = traced_sharding(x) if isinstance(x, core.Tracer) else getattr(x, "sharding", None)
    if not isinstance(sharding, NamedSharding):
        return PartitionSpec()
    entries = []
    for d in range(len(sharding.spec)):
        kept = tuple(a for a in sharding.spec.axis_names_of(d) if a in manual)
        entries.append(kept or None)
    return PartitionSpec(*entries)


def _blocks(mesh, manual, in_specs, args):
    """(argument leaves, their structure, their specs, the avals of their blocks), checked."""
    path_leaves, in_tree = tree_util.tree_flatten_with_path(args)
    leaves = [x for _, x in path_leaves]
    if in_specs is Infer:
        specs = [_inferred_spec(x, manual) for x in leaves]
    else:
        specs = shardings_per_leaf(in_specs, in_tree, "shard_map in_specs")
    block_avals = []
    for (path, x), spec in zip(path_leaves, specs):
        what = f"in_specs for argument {_label(path)}"
        aval = core.get_aval(x)
        check_fits(NamedSharding(mesh, _check_spec(spec, mesh, manual, what)), aval.shape,
                   f"shard_map argument {_label(path)}")
        block_avals.append(block_aval(mesh, spec, aval))
    return leaves, in_tree, specs, block_avals


def _apply(f, mesh, manual, in_specs, out_specs, check_vma, args):
    leaves, in_tree, specs, block_avals = _blocks(mesh, manual, in_specs, args)
    box = []

    def body(*blocks):
        out = f(*tree_util.tree_unflatten(in_tree, list(blocks)))
        flat, out_tree = tree_util.tree_flatten(out)
        box.append(out_tree)
        return flat
    jaxpr, consts = stage_body(body, mesh, manual, block_avals)
    out_tree = box[0]
    flat_out_specs = shardings_per_leaf(out_specs, out_tree, "shard_map out_specs")
    for i, (spec, aval) in enumerate(zip(flat_out_specs, jaxpr.out_avals)):
        what = f"out_specs for result {i} of {getattr(f, '__name__', 'the function')}"
        if spec is None:
            raise TypeError(f"shard_map {what}: None is not a PartitionSpec; write P() for a "
                            "result that is the same on every device")
        _check_spec(spec, mesh, manual, what)
        if len(spec) > aval.ndim:
            raise ValueError(f"shard_map {what}: the function returned a block of rank "
                             f"{aval.ndim} (shape {aval.shape}) but {spec} names {len(spec)} "
                             "dimensions; give at most one entry per dimension (a rank-0 "
                             "result that differs by device needs a dimension of its own)")
    if check_vma:
        check_out_replication(jaxpr, [PartitionSpec()] * len(consts) + specs, flat_out_specs,
                              manual, getattr(f, "__name__", "the function"))
    outs = bind_shard_map(list(consts) + leaves, jaxpr,
                          [PartitionSpec()] * len(consts) + specs, flat_out_specs, mesh=mesh,
                          manual_axes=manual, name=getattr(f, "__name__", "shard_map"))
    return tree_util.tree_unflatten(out_tree, outs)
