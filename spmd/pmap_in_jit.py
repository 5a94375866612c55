"""A pmap inside a jit being traced (in its function, or in a cond, scan or fori_loop there)
runs over the pmap's devices, as JAX 0.10.2 runs it: a shard_map over a 1-D mesh of those
devices named by the pmap's axis name, each mapped argument split along its in_axes dimension
(one row per device), the per-device program between a squeeze of that row and an expansion at
its out_axes (an out_axes=None result is replicated: P()). The enclosing jit then compiles for
that mesh (transforms/partitioned_jit.py finds it through the shard_map), its other values
replicated, and returns Arrays laid out on those devices. grad and vmap inside the jit go
through shard_map's rules, which are JAX's for pmap (check_vma=False).

Elsewhere pmap keeps its own primitive (spmd/pmap_primitive.py): outside a jit trace (grad or
vmap of an eager pmap), inside another pmap or a shard_map's body (nested: computed there as a
vmap), in a job of several processes (refused when lowered), and for an axis name that is not
a string (a mesh axis must be one; computed as a vmap on the jit's device).
"""
from __future__ import annotations

from spmd.devices import devices_for, process_count
from spmd.shard_map_primitive import bind_shard_map, stage_body
from spmd.transforms import caches, core, lax, partitioned_jit
from spmd.transforms.mesh import Mesh
from spmd.transforms.partition_spec import PartitionSpec

UNNAMED_AXIS = "_internal_pmap_axis_name"  # JAX's mesh axis for a pmap with axis_name=None


def applies(axis_name) -> bool:
    """Whether a pmap bound now runs as a shard_map over its devices."""
    return (partitioned_jit.tracing_a_jit()
            and (axis_name is None or isinstance(axis_name, str))
            and not any(f.kind in ("pmap", "shard_map") for f in core.axis_env())
            and process_count() == 1)


def _spec(dim, name) -> PartitionSpec:
    return PartitionSpec() if dim is None else PartitionSpec(*[None] * dim, name)


def _row(aval, dim):
    """The aval of one device's block: the mapped dimension cut to one row."""
    if dim is None:
        return aval
    return aval.update(shape=aval.shape[:dim] + (1,) + aval.shape[dim + 1:])


@caches.cached
def _body(jaxpr, in_dims, out_dims, mesh, block_avals, axes):
    """The shard_map body of the per-device `jaxpr` (consts first) and its consts. `axes`
    (the named axes bound around the call) only keys the cache: they shape the staging."""
    name = mesh.axis_names[0]

    def per_device(*blocks):
        xs = [b if d is None else lax.squeeze(b, (d,)) for b, d in zip(blocks, in_dims)]
        outs = core.eval_jaxpr(jaxpr, [], *xs)
        return [o if d is None else lax.expand_dims(o, (d,)) for o, d in zip(outs, out_dims)]
    return stage_body(per_device, mesh, (name,), block_avals)


def bind(jaxpr, args, in_dims, out_dims, *, axis_name, size, devices, name) -> list:
    """The results of the per-device `jaxpr` (its consts among `args`, `in_dims` None for
    them) mapped over `size` devices, as a shard_map bound on the current trace."""
    mesh_axis = UNNAMED_AXIS if axis_name is None else axis_name
    mesh = Mesh(tuple(devices_for(size, devices)), (mesh_axis,))
    in_dims, out_dims = tuple(in_dims), tuple(out_dims)
    block_avals = tuple(_row(core.get_aval(x), d) for x, d in zip(args, in_dims))
    axes = tuple((f.name, f.size) for f in core.axis_env())
    body, consts = _body(jaxpr, in_dims, out_dims, mesh, block_avals, axes)
    specs = [PartitionSpec()] * len(consts) + [_spec(d, mesh_axis) for d in in_dims]
    return bind_shard_map(list(consts) + list(args), body, specs,
                          [_spec(d, mesh_axis) for d in out_dims], mesh=mesh,
                          manual_axes=(mesh_axis,), name=name)
