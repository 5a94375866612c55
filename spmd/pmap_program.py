"""One compiled pmap signature: trace the function once with per-device types under the axis
name, lower it to an N-replica XLA program, and run it with one shard per device.

Layout: a mapped argument or result is a global (N, ...) Array stacked along dimension 0 over
the N devices, device i holding row i as a (1, ...) shard; the per-replica program takes that
(1, ...) shard and reshapes it to the per-device value at entry (and back at exit), which XLA
does for free. A broadcast argument (in_axes=None) or an out_axes=None result is replicated:
each device holds the whole value. Arrays already laid out that way on the same devices (the
results of an earlier pmap) are passed on as they are, with no copy and no host round trip.
In a job of several processes the program has one replica per device of the job, and each
process holds (and passes, and gets back) only its own devices' rows: the same layout over its
local devices.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from spmd.cluster import stall_watch
from spmd.collectives.axes import ReplicaAxes
from spmd import inflight, pmap_call_order
from spmd.pmap_agreement import check_same_program
from spmd.pmap_float0 import Float0Values
from spmd.pmap_transport import cross_process_transport
from spmd.transforms import backend, core, lax, lowering
from spmd.transforms.config import config
from spmd.transforms.array import Array, make_array
from spmd.transforms.core import AxisFrame, ClosedJaxpr, ShapedArray
from spmd.transforms.staging import closed_as_open, trace_to_jaxpr


def has_collectives(jaxpr: core.Jaxpr) -> bool:
    """Whether the replicas of the program meet at a collective (one declared `collective`),
    anywhere in it: in a loop body, a branch, a call."""
    return any(prim.collective for prim in core.primitives_in(jaxpr))


class MappedInput:
    """How one mapped argument (in_axes = `dim`) reaches the devices: a (N, ...) stacked Array."""
    __slots__ = ("aval", "dim", "devices", "shardings")

    def __init__(self, aval: ShapedArray, dim: int, devices):
        self.dim, self.devices = dim, devices
        shape = list(aval.shape)
        shape.insert(0, shape.pop(dim))
        self.aval = aval.update(shape=tuple(shape))  # the mapped axis in front
        # the layouts taken as they are: stacked on these devices, or (a map over one device)
        # a plain Array on that device, whose (1, ...) buffer is the one shard
        self.shardings = (backend.stacked_sharding(devices, self.aval.ndim),) + (
            (backend.single_sharding(devices[0]),) if len(devices) == 1 else ())

    def __call__(self, x):
        if type(x) is Array and x._buf._sharding in self.shardings and self.dim == 0:
            x._check_alive()
            return x._buf
        host = np.asarray(x) if type(x) is Array else np.asarray(x, dtype=self.aval.dtype)
        if self.dim:
            host = np.moveaxis(host, self.dim, 0)
        shards = host.reshape((host.shape[0], 1) + host.shape[1:])
        return backend.device_put_sharded(list(shards), self.aval, self.devices)


class BroadcastInput:
    """An argument with in_axes=None (or a closed-over constant): a copy on every device."""
    __slots__ = ("aval", "devices", "sharding")

    def __init__(self, aval: ShapedArray, devices):
        self.aval, self.devices = aval, devices
        self.sharding = backend.replicated_sharding(devices)

    def __call__(self, x):
        if type(x) is Array and x._buf._sharding is self.sharding:
            x._check_alive()
            return x._buf
        host = np.asarray(x) if type(x) is Array else np.asarray(x, dtype=self.aval.dtype)
        return backend.device_put_replicated(host, self.aval.strip_weak(), self.devices)


def trace_per_device(fun, axis_name, size: int, per_device_avals, out_axes_of):
    """Stage `fun(*flat per-device values) -> flat outputs` under the axis name. Returns the
    per-device program (its consts are the values `fun` closes over) and, from `out_axes_of()`
    called once `fun` has run, one out axis (or None) per output."""
    box = []

    def traced(*xs):
        outs = fun(*xs)
        box.append(out_axes_of())
        return outs
    with core.extend_axis_env(AxisFrame(axis_name, size, "pmap")):
        closed = trace_to_jaxpr(traced, per_device_avals)
    return closed, box[0]


class PmapProgram:
    """A per-device program lowered to one N-replica XLA program and compiled; calling it with
    the flat arguments (in their user layout) runs one step.

    Across processes, `devices` are the devices of the whole (global) mapped axis, as every
    process compiles the same N-replica program for them; this process passes and gets back
    only the part its own devices hold (L of the N), in the same layout as a map over local
    devices alone. XLA runs the collectives between processes (gloo on CPU), except those that
    go over MPI in a job with an MPI world (spmd/pmap_transport.py)."""

    def __init__(self, closed: ClosedJaxpr, axis_name, devices: Sequence, in_avals, in_dims,
                 out_dims, donated: Sequence[bool], name: str, compiler_options: tuple = ()):
        """`closed` takes the per-device values of the arguments whose types on this process
        are `in_avals`, mapped along `in_dims` (None: broadcast); its outputs are mapped along
        `out_dims` (None: one device's value). `compiler_options` are XLA's, as pairs."""
        self.devices = list(devices)
        self.device_ids = tuple(d.id for d in self.devices)
        me = backend.process_index()
        self.local_devices = [d for d in self.devices if d.process_index == me]
        self.spans_processes = len(self.local_devices) < len(self.devices)
        self.name = name
        n, local = len(self.devices), self.local_devices
        per_device = [a if d is None else a.update(shape=a.shape[:d] + a.shape[d + 1:])
                      for a, d in zip(in_avals, in_dims)]
        # float0 values (the gradients of integers) hold no data: the program neither takes
        # nor returns them; they are made on the host (spmd/pmap_float0.py)
        self.float0 = Float0Values(in_avals, per_device, closed.jaxpr.out_avals, out_dims,
                                   len(local))
        self.out_dims = self.float0.kept_outputs(list(out_dims))
        taken, taken_dims = self.float0.kept(per_device), self.float0.kept(list(in_dims))
        replica_avals = [a if d is None else a.update(shape=(1,) + a.shape)
                         for a, d in zip(taken, taken_dims)]

        kept_out_avals = self.float0.kept_outputs(list(closed.jaxpr.out_avals))
        replica_out_avals = [a if d is None else a.update(shape=(1,) + a.shape)
                             for a, d in zip(kept_out_avals, self.out_dims)]

        def body(*flat):
            # the (1, ...) shard of a mapped argument is the per-device value, and back
            xs = [x if d is None else lax.reshape(x, a.shape)
                  for x, a, d in zip(flat, taken, taken_dims)]
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *self.float0.with_inputs(xs))
            return [o if d is None else lax.reshape(o, (1,) + core.get_aval(o).shape)
                    for o, d in zip(self.float0.kept_outputs(outs), self.out_dims)]

        def build(check_in_program: bool, transport):
            """Trace and lower the N-replica program; with `check_in_program`, it takes the
            (program id, call count) pair first and checks it (spmd/pmap_call_order.py):
            inside the program where XLA's own collectives carry it (`transport` None; the
            reduced pair and the next call's pair are its last two results), else in a
            host callback."""
            avals = [pmap_call_order.PAIR] * check_in_program + replica_avals

            def replica(*flat):
                if not check_in_program:
                    return body(*flat)
                if transport is None:
                    return pmap_call_order.check_in_program(flat[0], body, list(flat[1:]),
                                                            replica_out_avals)
                return body(*pmap_call_order.check_call_order(flat[0], list(flat[1:])))

            with core.extend_axis_env(AxisFrame(axis_name, n, "pmap")):
                jaxpr, consts = closed_as_open(trace_to_jaxpr(replica, avals))
            callbacks = []
            text = lowering.lower_module(
                jaxpr, name=f"pmap_{name}", num_replicas=n,
                donated=[False] * (len(consts) + check_in_program)
                + self.float0.kept(list(donated)),
                axis_context=ReplicaAxes(((axis_name, n),), transport),
                host_callbacks=callbacks)
            return jaxpr, consts, callbacks, text

        # every run across processes first checks that all run this program at this call: over
        # MPI inside the first all-reduce's callback when every collective goes over MPI (it
        # costs one tiny MPI call), else as a step of its own at the program's start
        check = self.spans_processes and config.check_call_order
        transport = cross_process_transport(self.devices)
        self.counter = pmap_call_order.carry_in_callbacks(transport) if check else None
        jaxpr, consts, host_callbacks, self.text = build(check and self.counter is None,
                                                         transport)
        if self.counter is not None and not pmap_call_order.carried(self.text):
            self.counter = None
            jaxpr, consts, host_callbacks, self.text = build(
                True, cross_process_transport(self.devices))
        self.checks_order = check and self.counter is None  # the pair is an input
        # checked inside the program: its last results are the reduced pair and the next pair
        self.in_program = self.checks_order and transport is None
        self.next_pair = None  # the pair of the next call, where the program made it
        if check:
            self.program_id = pmap_call_order.program_id(name, self.text)
            if self.counter is not None:
                self.counter.program_id = self.program_id
            else:  # the pair is an input of every call
                self.put_pair = BroadcastInput(pmap_call_order.PAIR, local)
        const_avals = [core.get_aval(c) for c in consts]
        out_dims = self.out_dims + [None, None] * self.in_program
        out_avals = [a.update(shape=(len(local),) + a.shape[1:]) if d is not None else a
                     for a, d in zip(jaxpr.out_avals, out_dims)]
        self.out_avals = out_avals[:len(self.out_dims)]  # the user's
        self.in_avals = list(in_avals)
        in_avals, in_dims = self.float0.kept(list(in_avals)), self.float0.kept(list(in_dims))
        self.unchecked = self.spans_processes  # see __call__
        shardings = [backend.stacked_sharding(local, a.ndim) if d is not None
                     else backend.replicated_sharding(local)
                     for a, d in zip(out_avals, out_dims)]
        self.exe = backend.compile(self.text, out_avals, self.devices, out_sharding=shardings,
                                   host_callbacks=host_callbacks,
                                   compiler_options=compiler_options)
        self.const_bufs = [BroadcastInput(a, local)(c) for a, c in zip(const_avals, consts)]
        self.inputs = [BroadcastInput(a, local) if d is None
                       else MappedInput(a, d, local) for a, d in zip(in_avals, in_dims)]
        self.moved = any(d not in (None, 0) for d in self.out_dims)
        # only programs whose replicas meet at a collective can deadlock when queued
        self.bounded = bool(host_callbacks) or has_collectives(jaxpr)
        # Programs with host callbacks (the all-reduces between processes) run one at a time,
        # in every process in the order of the calls: their replicas meet in the callbacks
        # once per execution, and MPI needs every process to make its calls in one order.
        # (The call-order check's own callback over gloo meets no one.)
        meeting = [cb for cb in host_callbacks if not getattr(cb, "order_check", False)]
        self.inflight_key, self.inflight_limit = (
            (("host callbacks",), 1) if meeting else (self.device_ids, None))
        self.calls = 0
        # an execution across processes that waits too long is reported, then ends the job
        self.run = stall_watch.Tracked(name).run if self.spans_processes else \
            (lambda execute, bufs: execute(bufs))

    def __call__(self, leaves) -> list:
        if self.float0.inputs:
            leaves = self.float0.kept(leaves)
        if self.spans_processes:
            pmap_call_order.raise_if_failed()  # a failed check: no process may go on
        if self.unchecked:  # first run across processes: a mismatch must fail, not hang
            check_same_program(self.name, self.in_avals, self.out_avals, self.text)
            self.unchecked = False
        bufs = self.const_bufs + [put(x) for put, x in zip(self.inputs, leaves)]
        if self.checks_order:
            self.calls += 1
            pair, self.next_pair = self.next_pair, None  # (None again if this run fails)
            if pair is None:
                pair = self.put_pair(pmap_call_order.pair(self.program_id, self.calls))
            bufs.insert(len(self.const_bufs), pair)
        if self.bounded:
            try:
                outs = inflight.launch(self.inflight_key,
                                       lambda: self.run(self.exe.run_with_token, bufs),
                                       self.inflight_limit)
                if self.in_program:
                    # waits for the run: no result of it is returned before the check passed
                    self.next_pair, reduced = outs.pop(), outs.pop()
                    pmap_call_order.verify(pmap_call_order.pair(self.program_id, self.calls),
                                           backend.to_numpy(reduced, np.int32))
            except backend.JaxRuntimeError as e:
                if not self.spans_processes:
                    raise
                pmap_call_order.raise_if_failed()
                raise RuntimeError(
                    f"pmap of {self.name} spans the devices of several processes, and a "
                    f"collective between them failed: {str(e).splitlines()[0]}. Another process "
                    "of the job probably died or stopped; see its output") from e
        else:
            outs = self.exe(bufs)
        results = [Array(b, a) for b, a in zip(outs, self.out_avals)]
        if self.moved:  # out_axes other than 0: move the mapped axis (through the host)
            results = [r if d in (None, 0) else make_array(np.moveaxis(np.asarray(r), 0, d),
                                                           r.weak_type)
                       for r, d in zip(results, self.out_dims)]
        return self.float0.with_outputs(results) if self.float0.outputs else results
