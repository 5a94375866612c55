"""lax.ragged_all_to_all, lax.psend and lax.precv: XLA's CPU backend in jaxlib 0.10.2 cannot run
them (ragged-all-to-all crashes its compiler; it has no Send/Recv), so inside pmap they raise a
NotImplementedError naming what to use instead, before anything reaches XLA. ragged_all_to_all
still has JAX's shape rule, errors, JVP, transpose and batching rule: checked here on the staged
programs (shapes and the operations they hold) under a bound axis of 8."""
import contextlib

import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.transforms import core

N = 8  # the axis size: 8 local devices
K = 2 * N  # two slices for each destination
OPERAND = np.arange(N * 6 * 3, dtype=np.float32).reshape(N, 6, 3)
OUTPUT = np.zeros((N, 10, 3), np.float32)
OFFSETS = np.tile(np.arange(K, dtype=np.int32) % 6, (N, 1))
SIZES = np.ones((N, K), np.int32)


def _ragged(operand, output, offsets=OFFSETS[0], sizes=SIZES[0], **kw):
    return lax.ragged_all_to_all(operand, output, offsets, sizes, offsets, sizes,
                                 axis_name="i", **kw)


@contextlib.contextmanager
def _axis_i():
    with core.extend_axis_env(core.AxisFrame("i", N, "pmap")):
        yield


def test_ragged_all_to_all_in_pmap_says_the_backend_cannot_and_what_to_use():
    with pytest.raises(NotImplementedError, match=r"ragged_all_to_all cannot run on this backend: "
                       r"XLA's CPU compiler in jaxlib 0.10.2 has no ragged-all-to-all.*Use "
                       r"spmd.lax.all_to_all on chunks padded to one size instead"):
        spmd.pmap(lambda *a: lax.ragged_all_to_all(*a, axis_name="i"), "i")(
            OPERAND, OUTPUT, OFFSETS, SIZES, OFFSETS, SIZES)


@pytest.mark.parametrize("who", ["psend", "precv"])
def test_psend_and_precv_point_to_ppermute(who):
    call = {"psend": lambda x: lax.psend(x, "i", [(0, 1)]),
            "precv": lambda x: lax.precv(x, spmd.ShapeDtypeStruct((6, 3), np.float32), "i",
                                         [(0, 1)])}[who]
    with pytest.raises(NotImplementedError, match=rf"{who} cannot run on this backend: XLA's "
                       r"CPU runtime in jaxlib 0.10.2 has no Send/Recv.*Use "
                       r"spmd.lax.ppermute\(x, axis_name, perm\) instead"):
        spmd.pmap(call, "i")(OPERAND)
    with pytest.raises(NameError, match="unbound axis name: 'i'"):
        call(OPERAND[0])


def test_ragged_all_to_all_errors_in_jax_words():
    good = [OFFSETS[0], SIZES[0], OFFSETS[0], SIZES[0]]
    names = ["input_offsets", "send_sizes", "output_offsets", "recv_sizes"]
    for i, name in enumerate(names):
        for bad, message in [
                (good[i].astype(np.float32), f"ragged_all_to_all {name} must be integer type."),
                (good[i][None], f"ragged_all_to_all {name} must be rank 1 with positive "
                                f"dimension size, but got shape (1, {K})"),
                (good[i][:0], f"ragged_all_to_all {name} must be rank 1 with positive "
                              f"dimension size, but got shape (0,)")]:
            args = good[:i] + [bad] + good[i + 1:]
            # checked before the axis name, as in JAX: no axis is bound here
            with pytest.raises(ValueError) as info:
                lax.ragged_all_to_all(OPERAND[0], OUTPUT[0], *args, axis_name="i")
            assert str(info.value) == message
    with pytest.raises(NameError, match="unbound axis name: 'i'"):
        _ragged(OPERAND[0], OUTPUT[0])
    with _axis_i(), pytest.raises(ValueError, match="must contain every index of axis 'i'"):
        _ragged(OPERAND[0], OUTPUT[0], axis_index_groups=[[0, 1]])


def _eqn_names(jaxpr):
    return [e.prim.name for e in jaxpr.jaxpr.eqns]


def test_shape_rule_jvp_and_transpose_stage_jax_programs():
    with _axis_i():
        program = spmd.make_jaxpr(_ragged)(OPERAND[0], OUTPUT[0].astype(np.float32))
        assert program.out_avals[0].shape == (10, 3) and not program.out_avals[0].weak_type
        # forward mode: the same collective applied to the tangents of operand and output
        jvp_program = spmd.make_jaxpr(lambda x, t: spmd.jvp(
            lambda op: _ragged(op, OUTPUT[0]), (x,), (t,)))(OPERAND[0], OPERAND[0])
        assert _eqn_names(jvp_program).count("ragged_all_to_all") == 2
        # reverse mode: the cotangent goes back through a ragged_all_to_all whose offsets are
        # exchanged with all_to_all; the output's cotangent is masked where data was received
        grads = spmd.make_jaxpr(spmd.grad(lambda op, out: _ragged(op, out).sum(),
                                          argnums=(0, 1)))(OPERAND[0], OUTPUT[0])
        names = _eqn_names(grads)
        assert names.count("all_to_all") == 2 and "select" in names
        # (the forward collective is dead code: sum's cotangent needs no primal output)
        (back,) = [e for e in grads.jaxpr.eqns if e.prim.name == "ragged_all_to_all"]
        assert [v.aval.shape for v in back.invars[:2]] == [(10, 3), (6, 3)]
        assert back.outvars[0].aval.shape == (6, 3)
        assert [a.shape for a in grads.out_avals] == [(6, 3), (10, 3)]


def test_vmap_over_another_axis_merges_the_batch_into_one_collective():
    b = 3
    with _axis_i():
        program = spmd.make_jaxpr(spmd.vmap(_ragged, in_axes=(0, 0, None, None)))(
            np.stack([OPERAND[0]] * b), np.stack([OUTPUT[0]] * b), OFFSETS[0], SIZES[0])
    (eqn,) = [e for e in program.jaxpr.eqns if e.prim.name == "ragged_all_to_all"]
    assert [v.aval.shape for v in eqn.invars] == [(b * 6, 3), (b * 10, 3)] + [(K * b,)] * 4
    assert program.out_avals[0].shape == (b, 10, 3)
    with pytest.raises(NotImplementedError, match="only over an axis it does not name"):
        spmd.vmap(_ragged, axis_name="i")(OPERAND, OUTPUT)
