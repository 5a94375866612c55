"""Processes that run already-agreed pmap programs out of step (two programs in a different
order; one process skipping a psum between training steps) fail on every process with an
error naming both sides, over gloo (one device per process: checked inside the program; two:
by a host callback) and over MPI, and no value computed with the other process's program or
step is printed (spmd/pmap_call_order.py)."""
import os
import re

import numpy as np
import pytest

import spmd
from spmd import lax, pmap_call_order
from spmd.transforms.core import ShapedArray
from tests.launch.test_spmd_run import spmd_run_command

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts",
                      "pmap_out_of_step.py")
# (scenario, launcher flags, devices per process): each way of checking once, each transport
# once per scenario
JOBS = [("reorder", [], 2), ("reorder", ["--mpi"], 2), ("skip", [], 1), ("skip", ["--mpi"], 1)]
# the two sides each process must name: (its own, the other's)
SIDES = {"reorder": {0: ("metric (its call 2)", "train_step (its call 2)"),
                     1: ("train_step (its call 2)", "metric (its call 2)")},
         "skip": {0: ("metric (its call 3)", "train_step (its call 4)"),
                  1: ("train_step (its call 4)", "metric (its call 3)")}}


@pytest.mark.timeout(100)
@pytest.mark.parametrize("scenario,flags,k", JOBS,
                         ids=[f"{s}-{'mpi' if f else 'gloo'}-2x{k}" for s, f, k in JOBS])
def test_out_of_step_calls_fail_on_every_process(scenario, flags, k):
    transport = "mpi" if flags else "gloo"
    done, _ = spmd_run_command("-n", 2, *flags, "--cpu-devices", k, SCRIPT, scenario,
                               "auto" if flags else "gloo", timeout=90)
    assert done.returncode == 3, (done.stdout[-3000:], done.stderr[-3000:])
    assert f"[0] transport {transport}\n" in done.stdout, done.stdout[-3000:]
    # every value printed is the right one: a psum over 2 x k devices of (rank + 1)
    right = {"metric": k * 3.0, "train_step": k * 30.0 + 7.0}
    values = re.findall(r"value (\w+) \d+ \[([^\]]*)\]", done.stdout)
    for name, numbers in values:
        np.testing.assert_allclose([float(v) for v in numbers.split(",")], right[name])
    for rank, (mine, theirs) in SIDES[scenario].items():
        assert re.search(rf"\[{rank}\] .*pmap calls out of step between processes: process "
                         rf"{rank} ran pmap of {re.escape(mine)} while another process ran "
                         rf"pmap of {re.escape(theirs)}", done.stdout), done.stdout[-3000:]


def _checked_step(pair, x):
    """The in-program check around a body with outputs of three dtype families."""
    def body(v):
        return [lax.psum(v, "i"), v > 2.0, lax.convert_element_type(v, np.int32)]
    avals = [ShapedArray((3,), np.float32), ShapedArray((3,), np.bool_),
             ShapedArray((3,), np.int32)]
    return pmap_call_order.check_in_program(pair, body, [x], avals)


def test_in_program_check_runs_the_body_only_when_every_replica_is_in_step(monkeypatch):
    monkeypatch.setattr(pmap_call_order, "_mismatch", [])
    metric = pmap_call_order.program_id("metric", "module @metric")
    train = pmap_call_order.program_id("train_step", "module @train_step")
    step = spmd.pmap(_checked_step, axis_name="i")
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]], np.float32)
    last = 2 ** 31 - 2  # the count wraps to 0 after it, as pair() counts
    for count in (7, last):
        mine = pmap_call_order.pair(metric, count)
        total, above, whole, reduced, following = (np.asarray(o) for o in step(
            np.stack([mine, mine]), x))
        np.testing.assert_array_equal(total, np.stack([x.sum(0)] * 2))
        np.testing.assert_array_equal(above, x > 2.0)
        np.testing.assert_array_equal(whole, x.astype(np.int32))
        np.testing.assert_array_equal(reduced, np.stack([mine, mine]))
        np.testing.assert_array_equal(following[0], pmap_call_order.pair(metric, count + 1))
        pmap_call_order.verify(mine, reduced[0])  # in step: no error
    # out of step: the body is skipped (zeros), the reduced pair names both sides
    mine, theirs = pmap_call_order.pair(metric, 3), pmap_call_order.pair(train, 4)
    total, above, whole, reduced, _ = (np.asarray(o) for o in step(np.stack([mine, theirs]), x))
    assert not total.any() and not above.any() and not whole.any()
    np.testing.assert_array_equal(reduced[0], np.maximum(mine, theirs))
    with pytest.raises(pmap_call_order.CallOrderError,
                       match=r"process 0 ran pmap of metric \(its call 3\) while another process "
                             r"ran pmap of train_step \(its call 4\)\. Every process must run"):
        pmap_call_order.verify(mine, reduced[0])
