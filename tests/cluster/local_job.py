"""Start the processes of a job directly (no launcher), as the tests of cluster/ need."""
import os
import subprocess
import sys
import time
from dataclasses import dataclass

from spmd.cluster.addresses import free_port

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


@dataclass
class Ended:
    code: int
    stdout: str
    stderr: str
    seconds: float  # from the start of the job until this process ended


def start_job(script: str, num_processes: int, *args, coordinator: str | None = None,
              cpu_devices: int = 1, job_id: str | None = None,
              extra_env: dict[str, str] | None = None) -> list[subprocess.Popen]:
    """Start tests/cluster/scripts/<script> as every process of a job on 127.0.0.1 (a job id
    in SPMD_JOB_ID when given, none otherwise: as a job started by hand)."""
    coordinator = coordinator or f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "SPMD_JOB_ID"} | (extra_env or {})
    if job_id is not None:
        env["SPMD_JOB_ID"] = job_id
    return [subprocess.Popen(
        [sys.executable, os.path.join(SCRIPTS, script), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**env, "SPMD_COORDINATOR": coordinator, "SPMD_NUM_PROCESSES": str(num_processes),
             "SPMD_PROCESS_ID": str(i), "SPMD_CPU_DEVICES": str(cpu_devices)})
        for i in range(num_processes)]


def run_job(script: str, num_processes: int, *args, timeout: float = 60,
            cpu_devices: int = 1) -> list[Ended]:
    """Run tests/cluster/scripts/<script> as every process of a job on 127.0.0.1."""
    start = time.monotonic()
    procs = start_job(script, num_processes, *args, cpu_devices=cpu_devices)
    return wait_job(procs, start, timeout, script)


def wait_job(procs: list[subprocess.Popen], start: float, timeout: float,
             script: str) -> list[Ended]:
    """Wait until every process has ended (killing them all after `timeout` s from `start`)."""
    num_processes = len(procs)
    ended: dict[int, float] = {}
    try:
        while len(ended) < num_processes:
            for i, p in enumerate(procs):
                if i not in ended and p.poll() is not None:
                    ended[i] = time.monotonic() - start
            if time.monotonic() - start > timeout:
                running = sorted(set(range(num_processes)) - set(ended))
                raise TimeoutError(f"{script}: processes {running} still running after "
                                   f"{timeout} s")
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return [Ended(p.returncode, *p.communicate(), ended[i]) for i, p in enumerate(procs)]
