"""Start the processes of a job directly (no launcher), as the tests of cluster/ need."""
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


@dataclass
class Ended:
    code: int
    stdout: str
    stderr: str
    seconds: float  # from the start of the job until this process ended


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(script: str, num_processes: int, *args, timeout: float = 60,
            cpu_devices: int = 1) -> list[Ended]:
    """Run tests/cluster/scripts/<script> as every process of a job on 127.0.0.1."""
    coordinator = f"127.0.0.1:{free_port()}"
    start = time.monotonic()
    procs = [subprocess.Popen(
        [sys.executable, os.path.join(SCRIPTS, script), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SPMD_COORDINATOR": coordinator,
             "SPMD_NUM_PROCESSES": str(num_processes), "SPMD_PROCESS_ID": str(i),
             "SPMD_CPU_DEVICES": str(cpu_devices)})
        for i in range(num_processes)]
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
