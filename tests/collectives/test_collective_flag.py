"""pmap bounds the executions in flight of every program whose replicas meet at a collective
(spmd/inflight.py), which it finds by the primitives' `collective` flag anywhere in the program:
in a scan body, a cond branch, a loop inside a jitted function."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd import lax
from spmd.collectives.axes import ReplicaAxes
from spmd.pmap_program import PmapProgram, has_collectives, trace_per_device
from spmd.transforms import lowering
from spmd.transforms.core import ShapedArray
from tests.collectives.cases import CASES, inputs
from tests.oracles import assert_close

N = 4
# what a collective lowers to: a primitive that writes one of these must be flagged
STABLEHLO_COLLECTIVES = ("stablehlo.all_reduce", "stablehlo.all_gather", "stablehlo.all_to_all",
                         "stablehlo.reduce_scatter", "stablehlo.collective_permute")


def _shift(v):
    return lax.ppermute(v, "i", [(k, (k + 1) % N) for k in range(N)])


def _psum_in_scan(x):
    total, _ = lax.scan(lambda c, v: (c + lax.psum(v, "i"), c), jnp.zeros(()), x)
    return jnp.broadcast_to(total, x.shape)


PROGRAMS = {  # name: (per-device function of a (3,) float32, NumPy oracle on the stacked (N, 3))
    "psum in a scan body": (_psum_in_scan, lambda X: np.broadcast_to(X.sum(), X.shape)),
    "all_gather in a cond branch": (
        lambda x: lax.cond(x[0] > -100, lambda v: lax.all_gather(v, "i").sum(0), lambda v: v, x),
        lambda X: np.broadcast_to(X.sum(0), X.shape)),
    "ppermute in a loop in jit": (
        spmd.jit(lambda x: lax.fori_loop(0, 2, lambda k, v: _shift(v), x)),
        lambda X: np.roll(X, 2, axis=0)),
}


def _program(fun):
    """The pmap program of `fun` over N devices, its argument a (N, 3) float32 array."""
    per_device = ShapedArray((3,), np.float32)
    closed, _ = trace_per_device(lambda x: [fun(x)], "i", N, [per_device], lambda: None)
    return PmapProgram(closed, "i", spmd.devices()[:N], [per_device.update(shape=(N, 3))], [0],
                       [0], [False], "f")


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_a_collective_inside_a_subprogram_bounds_the_program(name):
    fun, oracle = PROGRAMS[name]
    program = _program(fun)
    assert program.bounded
    X = np.arange(N * 3, dtype=np.float32).reshape(N, 3)
    assert_close(program([X])[0], oracle(X))


def test_a_program_without_collectives_is_not_bounded():
    program = _program(lambda x: lax.cond(lax.axis_index("i") > 1, jnp.sin, jnp.cos,
                                          x * lax.axis_index("i")))
    assert not program.bounded
    X = np.arange(N * 3, dtype=np.float32).reshape(N, 3)
    index = np.arange(N, dtype=np.float32)[:, None]
    assert_close(program([X])[0], np.where(index > 1, np.sin(X * index), np.cos(X * index)))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_flag_agrees_with_the_lowering(case):
    """Every collective of the table is flagged exactly when it lowers to a StableHLO
    collective, so the flag cannot fall behind a new collective."""
    X = inputs(case, N, case.dtypes[0], None)
    closed, _ = trace_per_device(lambda x: [case.fun(x, "i", None)], "i", N,
                                 [ShapedArray(X.shape[1:], X.dtype)], lambda: None)
    text = lowering.lower_module(closed.jaxpr, name="f", num_replicas=N,
                                 axis_context=ReplicaAxes((("i", N),)))
    assert has_collectives(closed.jaxpr) == any(op in text for op in STABLEHLO_COLLECTIVES)
