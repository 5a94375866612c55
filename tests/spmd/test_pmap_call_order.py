"""Processes that run already-agreed pmap programs out of step (two programs in a different
order; one process skipping a psum between training steps) fail on every process with an
error naming both sides, over gloo (one device per process: checked inside the program; two:
by a host callback) and over MPI, and no value computed with the other process's program or
step is printed (spmd/pmap_call_order.py)."""
import os
import re

import numpy as np
import pytest

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
