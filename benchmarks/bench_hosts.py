"""Issue 12: the example across two hosts, next to one host.

examples/train_data_parallel.py on the two simulated hosts of the tests (tests/simulated_hosts.py:
network namespaces joined by a veth pair, so the processes talk over TCP between two
addresses), started by hand (SPMD_COORDINATOR, SPMD_NUM_PROCESSES, SPMD_PROCESS_ID; one process
per host), and on one host with the same global batch and device count: 1 process with all the
devices, and 2 processes started the same way on one host. Median examples/s of the epochs after
the first (bench_example.epoch_speeds), and the wall time of the job. No checkpoints.

Both "hosts" share this machine's cores, so the figure measures what crossing hosts costs
(another address, the veth link, gloo over TCP instead of loopback), not a network's speed.
Needs root (network namespaces); skipped, with the reason, without it.

    sudo PYTHONPATH=.. python bench_hosts.py [--epochs 10] [--devices-per-process 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench_example import BATCH, ROOT, SCRIPT, epoch_speeds
from common import machine

sys.path.insert(0, os.path.join(ROOT, "tests"))
import simulated_hosts  # noqa: E402  (a test helper: the hosts the multi-host tests use)

PORT = 23000 + os.getpid() % 1000


def run(placement, devices: int, epochs: int, timeout: float = 600):
    """The example as process i on placement[i] (the coordinator on placement[0]); process 0's
    examples/s per epoch after the first, and the job's wall time."""
    argv = [sys.executable, SCRIPT, "--epochs", str(epochs), "--batch-size", str(BATCH),
            "--checkpoint-dir", ""]
    env = {**os.environ, "SPMD_CPU_DEVICES": str(devices), "PYTHONPATH": ROOT}
    if len(placement) > 1:
        global PORT
        PORT += 1
        env.update(SPMD_COORDINATOR=f"{placement[0].address}:{PORT}",
                   SPMD_NUM_PROCESSES=str(len(placement)))
    start = time.perf_counter()
    procs = [subprocess.Popen(host.command(argv), cwd=ROOT, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**env, "SPMD_PROCESS_ID": str(rank)})
             for rank, host in enumerate(placement)]
    try:
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    wall = time.perf_counter() - start
    failed = [(rank, p.returncode, err) for rank, (p, (_, err)) in enumerate(zip(procs, outs))
              if p.returncode]
    if failed:
        rank, code, err = failed[0]
        tail = err.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"process {rank} exited with {code}: {tail[0][:200]}")
    return epoch_speeds(outs[0][0]), wall


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--devices-per-process", type=int, default=4)
    args = p.parse_args()
    reason = simulated_hosts.skip_reason()
    if reason:  # not a failure: `make bench` goes on with the other scripts
        print(f"# bench_hosts: skipped, {reason}")
        return
    print(f"# bench_hosts: {machine()}")
    d, epochs = args.devices_per_process, args.epochs
    print(f"\n## the example, {epochs} epochs, global batch {BATCH} over {2 * d} CPU devices: "
          f"median examples/s after epoch 1, and the job's wall time")
    pair = simulated_hosts.HostPair.create(subnet=99)
    try:
        a, b = pair.hosts
        for name, placement, devices in [
                (f"one host, 1 process x {2 * d}", (a,), 2 * d),
                (f"one host, 2 processes x {d}", (a, a), d),
                (f"two hosts, 1 process x {d} each", (a, b), d)]:
            try:
                speeds, wall = run(placement, devices, epochs)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"  {name:34s} failed: {e}")
                continue
            print(f"  {name:34s} {statistics.median(speeds):10,.0f} examples/s "
                  f"{wall:7.1f} s wall")
    finally:
        pair.remove()
    print(f"# load average at the end: {machine()}")


if __name__ == "__main__":
    main()
