"""Issue 7: examples/train_data_parallel.py end to end, and whether its loader keeps up.

1. The loader alone vs the train step it feeds, in this process (8 CPU devices, the example's
   own loader, pmapped train step and global batch): batches/s of the loader putting batches
   onto the devices, of the train step on a batch already there, and of the two together
   (interleaved rounds, medians: the cores are shared).
2. The whole script under each launcher (a fresh job each: start-up, compilation, training,
   no checkpoints): the median examples/s of its epochs after the first (which compiles), and
   the wall time of the command. `python` runs 1 process x 8 devices; spmd-run, --mpi and --ray
   run 2 processes x 4 devices, with the same global batch.

    SPMD_CPU_DEVICES=8 PYTHONPATH=.. python bench_example.py [--epochs 30] [--skip-launchers]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("SPMD_CPU_DEVICES", "8")

import numpy as np  # noqa: E402

from common import interleaved, machine, report  # noqa: E402

import spmd  # noqa: E402
from spmd.data import ShardedLoader, replicate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "train_data_parallel.py")
BATCH = 128  # the example's default global batch
EPOCH_LINE = re.compile(r"^(?:\[0\] )?epoch\s+(\d+)/\d+ .* ([\d,]+) examples/s$")


def load_example():
    spec = importlib.util.spec_from_file_location("train_data_parallel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _block(tree):
    for leaf in spmd.tree_util.tree_leaves(tree):
        leaf.block_until_ready()


def loader_vs_step(batches: int = 55, rounds: int = 9):
    """Seconds per batch of each side, interleaved round by round (shared cores: a change of
    load then hits every side alike), the median over rounds of `batches` batches each."""
    example = load_example()
    train_set, _ = example.digits_split()
    params = example.init_params(0)
    state = [replicate(params), replicate(example.OPTIMIZER.init(params))]
    loaders = {prefetch: ShardedLoader(train_set, BATCH, seed=0, prefetch=prefetch)
               for prefetch in (0, 2)}  # the example's loader has prefetch 2

    def take(loader, step=None):
        """`batches` batches (across epochs), each waited for: on its devices, or stepped."""
        done = 0
        while done < batches:
            for batch in loader:
                if step is None:
                    _block(batch)
                else:
                    state[0], state[1], _ = step(state[0], state[1], batch)
                done += 1
                if done == batches:
                    break
        _block(state[0])

    fixed = next(iter(ShardedLoader(train_set, BATCH, seed=0, prefetch=0)))  # on the devices

    def step_alone():
        for _ in range(batches):
            state[0], state[1], _ = example.train_step(state[0], state[1], fixed)
        _block(state[0])

    rows = interleaved({
        "loader alone, prefetch 0": lambda: take(loaders[0]),
        "loader alone, prefetch 2": lambda: take(loaders[2]),
        "train step alone": step_alone,
        "train step fed by loader": lambda: take(loaders[2], example.train_step),
    }, rounds=rounds)
    for loader in loaders.values():
        loader.close()
    rows = [(name, seconds / batches) for name, seconds in rows]
    report(f"the example's loader vs its train step: digits, global batch {BATCH} over "
           f"{spmd.local_device_count()} devices (time per batch)", rows, "train step alone")
    for name, seconds in rows:
        print(f"  {name:28s} {1 / seconds:10.1f} batches/s {BATCH / seconds:12,.0f} examples/s")


LAUNCHERS = [
    ("python, 1 process x 8 devices", []),
    ("spmd-run -n 2, 2 x 4 devices", ["-n", "2", "--cpu-devices", "4"]),
    ("spmd-run --mpi -n 2, 2 x 4", ["-n", "2", "--mpi", "--cpu-devices", "4"]),
    ("spmd-run --ray -n 2, 2 x 4", ["-n", "2", "--ray", "--cpu-devices", "4"]),
]


def run_script(launcher_args: list[str], epochs: int, timeout: float = 300):
    script = [SCRIPT, "--epochs", str(epochs), "--checkpoint-dir", ""]
    command = ([sys.executable, *script] if not launcher_args
               else [sys.executable, "-m", "spmd.launch", *launcher_args, *script])
    env = {**os.environ, "SPMD_CPU_DEVICES": "8", "PYTHONPATH": ROOT}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=env)
    wall = time.perf_counter() - start
    return done, wall, epoch_speeds(done.stdout)


def epoch_speeds(stdout: str) -> list[float]:
    """The examples/s the example printed for each epoch after the first (which compiles)."""
    return [float(m.group(2).replace(",", "")) for m in map(EPOCH_LINE.match, stdout.splitlines())
            if m and int(m.group(1)) > 1]


def launchers(epochs: int):
    print(f"\n## the whole example, {epochs} epochs of {BATCH}-example global batches "
          f"(no checkpoints): median examples/s after epoch 1, and the command's wall time")
    for name, args in LAUNCHERS:
        try:
            done, wall, speeds = run_script(args, epochs)
        except subprocess.TimeoutExpired:
            print(f"  {name:32s} timed out")
            continue
        if not speeds:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            print(f"  {name:32s} failed (exit {done.returncode}): {tail[0][:150]}")
            continue
        note = "" if done.returncode == 0 else \
            f"  [exit {done.returncode}: {_failure(done)}]"
        print(f"  {name:32s} {statistics.median(speeds):10,.0f} examples/s "
              f"{wall:7.1f} s wall{note}")


def _failure(done) -> str:
    if "processes ended with different parameters" in done.stdout + done.stderr:
        return "the processes trained different models (pmap does not span processes yet)"
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1][:120] if lines else "no output"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--skip-launchers", action="store_true",
                   help="only the in-process loader vs train step comparison")
    args = p.parse_args()
    print(f"# bench_example: {machine()}")
    loader_vs_step()
    if not args.skip_launchers:
        launchers(args.epochs)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
