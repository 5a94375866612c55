"""device_put_p, JAX's primitive for `jax.device_put` (exported as jax.lax.device_put_p): each
operand moved to its destination in `devices` (a Device, a Sharding, or None: where it is).
The value is unchanged, so under a trace it stages as the identity, and it is linear: tangents
travel to the same destinations, and cotangents back to `srcs`, the operands' own placements
(None: anywhere), as JAX transposes it. `copy_semantics` is carried for programs that inspect
it; an eager copy never aliases its operand here."""
from __future__ import annotations

import numpy as np

from spmd.transforms import core
from spmd.transforms.array import Array, make_array
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import Zero, jvp_rules, linear_primitives
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.mesh_placement import place
from spmd.transforms.named_sharding import Sharding
from spmd.transforms.transpose import transpose_rules

device_put_p = Primitive("device_put", multiple_results=True)


def _abstract_eval(*avals, devices, srcs, copy_semantics):
    if not len(avals) == len(devices) == len(srcs) == len(copy_semantics):
        raise TypeError(f"device_put takes one destination, source and copy semantics per "
                        f"operand, got {len(avals)} operands, {len(devices)} devices, "
                        f"{len(srcs)} srcs and {len(copy_semantics)} copy_semantics")
    return list(avals)


device_put_p.def_abstract_eval(_abstract_eval)


def _put_one(x, device):
    if device is None:
        return x if type(x) is Array else make_array(x)
    if isinstance(device, Sharding):
        return place(x, device, "device_put's operand")
    return make_array(np.asarray(x), core.get_aval(x).weak_type, device=device)


def _impl(*xs, devices, srcs, copy_semantics):
    _abstract_eval(*xs, devices=devices, srcs=srcs, copy_semantics=copy_semantics)
    return [_put_one(x, d) for x, d in zip(xs, devices)]


core.impl_rules[device_put_p] = _impl
# inside a program the value is already where the program runs
lowering_rules[device_put_p] = lambda ctx, *xs, devices, srcs, copy_semantics: list(xs)


def _jvp(primals, tangents, *, devices, srcs, copy_semantics):
    params = dict(devices=devices, srcs=srcs, copy_semantics=copy_semantics)
    outs = device_put_p.bind(*primals, **params)
    moving = [i for i, t in enumerate(tangents) if type(t) is not Zero]
    moved = device_put_p.bind(*[tangents[i] for i in moving],
                              **{k: tuple(v[i] for i in moving) for k, v in params.items()})
    out_t = [Zero(core.get_aval(o)) for o in outs]
    for i, t in zip(moving, moved):
        out_t[i] = t
    return outs, out_t


def _transpose(cts, *xs, devices, srcs, copy_semantics):
    back = [i for i, ct in enumerate(cts) if type(ct) is not Zero]
    moved = device_put_p.bind(*[cts[i] for i in back], devices=tuple(srcs[i] for i in back),
                              srcs=tuple(devices[i] for i in back),
                              copy_semantics=tuple(copy_semantics[i] for i in back))
    out: list = [None] * len(xs)
    for i, ct in zip(back, moved):
        out[i] = ct
    return out


jvp_rules[device_put_p] = _jvp
transpose_rules[device_put_p] = _transpose
linear_primitives.add(device_put_p)
batching_rules[device_put_p] = lambda axis, args, dims, **params: (
    device_put_p.bind(*args, **params), list(dims))
