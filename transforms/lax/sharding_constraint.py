"""with_sharding_constraint: inside a program partitioned over a mesh, ask XLA's partitioner
to lay a value out as a NamedSharding says (Shardy's sharding_constraint). The value is
unchanged; its tangent and cotangent carry the same constraint. Outside any trace the value is
placed so."""
from __future__ import annotations

from spmd.transforms import core, tree_util
from spmd.transforms.arguments import shardings_per_leaf
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive
from spmd.transforms.mesh import AxisType
from spmd.transforms.jvp import deflinear
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.named_sharding import (NamedSharding, check_fits, resolve,
                                            sdy_sharding)
from spmd.transforms.partition_spec import PartitionSpec
from spmd.transforms.mesh_placement import place
from spmd.transforms.transpose import deftranspose_linear

sharding_constraint_p = Primitive("sharding_constraint")


def _abstract_eval(x, *, sharding):
    check_fits(sharding, x.shape, f"with_sharding_constraint's operand ({x.str_short()})"
               if hasattr(x, "str_short") else "with_sharding_constraint's operand")
    return x


sharding_constraint_p.def_abstract_eval(_abstract_eval)
core.impl_rules[sharding_constraint_p] = lambda x, *, sharding: place(x, sharding)


def _lower(ctx, x, *, sharding):
    mesh = ctx.module.mesh
    if mesh is None:
        raise ValueError("with_sharding_constraint needs a program partitioned over a mesh: "
                         "call it inside jit (not pmap or a device-local program)")
    if mesh != sharding.mesh:
        raise ValueError(f"with_sharding_constraint's sharding is over {sharding.mesh}, but the "
                         f"program is partitioned over {mesh}; use one mesh per program")
    aval = ctx.in_avals[0]
    return ctx.op("sdy.sharding_constraint", [x],
                  attrs=f"sharding = {sdy_sharding(sharding, aval.ndim)}")


lowering_rules[sharding_constraint_p] = _lower
deflinear(sharding_constraint_p)
deftranspose_linear(sharding_constraint_p,
                    lambda ct, x, *, sharding: sharding_constraint_p.bind(ct, sharding=sharding))


def _batch(axis, args, dims, *, sharding):
    (x,), (d,) = args, dims
    # the mapped dimension is split over vmap's spmd_axis_name, if any, else left whole
    ndim = core.get_aval(x).ndim
    entries = [sharding.spec[i] if i < len(sharding.spec) else None for i in range(ndim - 1)]
    entries.insert(d, axis.spmd_entry())
    batched = NamedSharding(sharding.mesh, PartitionSpec(*entries))
    return sharding_constraint_p.bind(x, sharding=batched), d


batching_rules[sharding_constraint_p] = _batch


def with_sharding_constraint(x, shardings):
    """`x` (a pytree) with each leaf laid out as `shardings` (one Sharding or PartitionSpec
    for all, or a pytree prefix of `x`) says."""
    leaves, tree = tree_util.tree_flatten(x)
    per_leaf = shardings_per_leaf(shardings, tree, "with_sharding_constraint shardings")
    out = []
    for leaf, s in zip(leaves, per_leaf):
        s = resolve(s, "with_sharding_constraint")
        if s is None:
            out.append(leaf)
        elif not isinstance(s, NamedSharding):
            raise TypeError(f"with_sharding_constraint takes NamedShardings or PartitionSpecs, "
                            f"got {s!r}")
        else:
            out.append(sharding_constraint_p.bind(leaf, sharding=s))
    return tree_util.tree_unflatten(tree, out)


def reshard(xs, out_shardings):
    """`xs` (a pytree) with each leaf laid out as `out_shardings` (one NamedSharding or
    PartitionSpec for all, or a pytree prefix of `xs`) says, as JAX's `reshard`: a value is
    placed so (moved block by block), a traced one constrained so for the partitioner. Only
    Explicit mesh axes (spmd.make_mesh's default) may split a dimension, as in JAX."""
    leaves, tree = tree_util.tree_flatten(xs)
    per_leaf = shardings_per_leaf(out_shardings, tree, "reshard out_shardings")
    return tree_util.tree_unflatten(tree, [
        sharding_constraint_p.bind(leaf, sharding=_reshard_target(s))
        for leaf, s in zip(leaves, per_leaf)])


def _reshard_target(s) -> NamedSharding:
    if s is None:
        raise ValueError("reshard needs a NamedSharding or a PartitionSpec for every value, "
                         "got None: give the layout each value should have")
    s = resolve(s, "reshard")
    if not isinstance(s, NamedSharding):
        raise TypeError(f"reshard takes NamedShardings or PartitionSpecs, got {s!r}; for one "
                        "device use device_put")
    for name in s.spec.used_axis_names():
        kind = s.mesh.axis_types[s.mesh.axis_names.index(name)]
        if kind is not AxisType.Explicit:
            raise ValueError(f"reshard splits only over Explicit mesh axes, but {s.spec} names "
                             f"axis {name!r}, which is {kind.name}: make the mesh with "
                             "axis_types=AxisType.Explicit (make_mesh's default) or use "
                             "lax.with_sharding_constraint")
    return s


def device_put_sharding(x, sharding):
    """device_put(x, sharding) for a Sharding: `x` (a pytree) placed so, or constrained so
    when traced."""
    def put(leaf, s):
        if s is None:
            return leaf
        if isinstance(leaf, core.Tracer):
            return with_sharding_constraint(leaf, s)
        return place(leaf, s)
    leaves, tree = tree_util.tree_flatten(x)
    per_leaf = shardings_per_leaf(sharding, tree, "device_put shardings")
    return tree_util.tree_unflatten(tree, [put(v, s) for v, s in zip(leaves, per_leaf)])
