"""Checkpoints across the two simulated hosts, jobs started by hand (SPMD_* variables, one
process per host, 2 CPU devices each).

- The default: process 0 writes to a directory only it is told about (process 1 gets a path that
  never exists), and at resume reads its own copy and sends it to process 1. The example is
  trained 4 steps straight through with process 0 on host 1, checkpointing every 2 steps; the
  checkpoint of step 2 is copied to a directory for host 2, and a job with process 0 on host 2
  resumes from it and ends, bit for bit, with the uninterrupted run's final checkpoint (the
  same programs on the same inputs in the same order: XLA's CPU programs and gloo's all-reduce
  are deterministic for a fixed process and device count).
- A shared directory (shared=True): every process reads it itself, which a process given a
  missing path shows by failing alone; a save checks that every process sees the new file.
- A checkpoint that process 0 cannot find raises the same error, naming process 0's host, on
  every process (none waits forever for bytes that will not come).
"""
import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from spmd import checkpoints
from spmd.transforms import tree_util

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_data_parallel.py")
TRAIN = ["--epochs", "1", "--batch-size", "64", "--max-steps", "4", "--checkpoint-every", "2"]
_ports = itertools.count(21000 + os.getpid() % 2000 * 10, 2)  # a job each: its port, the next


def run_job(hosts, argvs, timeout=90):
    """Process i (argv argvs[i]) on hosts[i], the coordinator on hosts[0]; their results."""
    port = next(_ports)
    procs = []
    for rank, (host, argv) in enumerate(zip(hosts, argvs)):
        env = {**os.environ, "SPMD_COORDINATOR": f"{hosts[0].address}:{port}",
               "SPMD_NUM_PROCESSES": str(len(hosts)), "SPMD_PROCESS_ID": str(rank),
               "SPMD_CPU_DEVICES": "2", "PYTHONPATH": ROOT}
        procs.append(subprocess.Popen(host.command([sys.executable, *argv]), env=env, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:  # a stuck rank fails the test instead of hanging it
            if p.poll() is None:
                p.kill()
                p.wait()
    return [subprocess.CompletedProcess(p.args, p.returncode, out, err)
            for p, (out, err) in zip(procs, outs)]


def train_on(hosts, directories, *flags):
    done = run_job(hosts, [[SCRIPT, *TRAIN, "--checkpoint-dir", str(d), *flags]
                           for d in directories])
    for rank, d in enumerate(done):
        assert d.returncode == 0, f"process {rank}: {d.stderr[-3000:]}"
    return done


@pytest.mark.timeout(240)
def test_resume_with_process_zero_on_the_other_host(hosts, tmp_path):
    host1, host2 = hosts
    private1, never = tmp_path / "host1-only", tmp_path / "told-to-process-1-only"
    said = train_on((host1, host2), (private1, never))[0].stdout
    assert sorted(os.listdir(private1)) == ["checkpoint_2", "checkpoint_4"]
    assert f"checkpoint at step 4: {private1}/checkpoint_4 on host {host1.name} (process 0's " \
           f"disk" in said, said

    private2 = tmp_path / "host2-only"  # a copy on host 2 of what host 1 had at step 2
    private2.mkdir()
    shutil.copy(private1 / "checkpoint_2", private2)
    said = train_on((host2, host1), (private2, never), "--resume")[0].stdout
    assert f"resumed at step 2 (epoch 1, batch 3) from {private2}/checkpoint_2 on host " \
           f"{host2.name}" in said, said
    assert not never.exists()  # process 1 neither read nor wrote its path
    resumed, straight = (checkpoints.restore_checkpoint(d / "checkpoint_4")
                         for d in (private2, private1))
    assert tree_util.tree_structure(resumed) == tree_util.tree_structure(straight)
    for x, y in zip(tree_util.tree_leaves(resumed), tree_util.tree_leaves(straight)):
        np.testing.assert_array_equal(x, y, strict=True)  # shapes and dtypes too
    assert checkpoints.restore_checkpoint(private2)["step"] == 4


# One job, several checks: each process prints one JSON line per check (the error's type and
# message, or what it got), in the order below.
CHECKS = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import spmd
    from spmd import checkpoints
    shared, told, missing = sys.argv[1:4]
    spmd.distributed.initialize()
    me = spmd.process_index()

    def check(name, fn):
        try:
            got = fn()
        except Exception as e:
            got = {"error": type(e).__name__, "message": str(e)}
        print(json.dumps({"check": name, "process": me, "got": got}), flush=True)

    tree = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": 7}
    check("save shared", lambda: checkpoints.save_checkpoint(shared, tree, step=7, shared=True))
    check("restore shared", lambda: checkpoints.restore_checkpoint(
        shared if me == 0 else told, shared=True)["w"].tolist())
    check("save shared, not seen", lambda: checkpoints.save_checkpoint(
        shared if me == 0 else missing, tree, step=8, shared=True))
    check("restore missing", lambda: checkpoints.restore_checkpoint(
        missing if me == 0 else shared))
""")


@pytest.fixture(scope="module")
def checks(hosts, tmp_path_factory):
    """{check: [process 0's result, process 1's]}, process 0 on host 2."""
    tmp = tmp_path_factory.mktemp("shared")
    shared, missing = tmp / "both", tmp / "missing"
    told = tmp / "only-1"  # process 1's path for a shared restore: it has no checkpoint
    done = run_job((hosts[1], hosts[0]), [["-c", CHECKS, str(shared), str(told), str(missing)]
                                          ] * 2, timeout=60)
    results = {}
    for rank, d in enumerate(done):
        assert d.returncode == 0, f"process {rank}: {d.stderr[-3000:]}"
        for line in d.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                results.setdefault(row["check"], [None, None])[row["process"]] = row["got"]
    return {"results": results, "shared": shared, "missing": missing, "told": told}


@pytest.mark.timeout(120)
def test_a_shared_directory_is_read_by_every_process(hosts, checks):
    results, shared = checks["results"], checks["shared"]
    written = str(shared / "checkpoint_7")
    assert results["save shared"] == [written, written]
    assert results["restore shared"][0] == [[0, 1, 2], [3, 4, 5]]
    # process 1 reads its own path, and has nothing there: it fails alone, naming its host
    assert results["restore shared"][1] == {
        "error": "FileNotFoundError",
        "message": f"no checkpoint file at '{checks['told']}' on host {hosts[0].name}"}


@pytest.mark.timeout(120)
def test_a_shared_save_fails_everywhere_when_a_process_does_not_see_the_file(checks):
    for rank, given in enumerate((checks["shared"], checks["missing"])):
        got = checks["results"]["save shared, not seen"][rank]
        assert got["error"] == "RuntimeError", got
        assert got["message"].startswith(
            "save_checkpoint(shared=True): process 0 wrote a checkpoint, but process(es) [1] do "
            f"not see it at the path they were given (process {rank} was given "
            f"'{given}/checkpoint_8'): the directory is not shared between the hosts"), got
    assert os.path.exists(checks["shared"] / "checkpoint_8")


@pytest.mark.timeout(120)
def test_a_checkpoint_process_zero_lacks_fails_on_every_process(hosts, checks):
    expected = {"error": "FileNotFoundError",
                "message": f"process 0: no checkpoint file at '{checks['missing']}' on host "
                           f"{hosts[1].name}"}
    assert checks["results"]["restore missing"] == [expected, expected]
