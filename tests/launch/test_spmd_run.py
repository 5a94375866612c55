"""spmd-run: local processes and mpiexec, jobs that succeed and jobs where a process dies.

Each job runs scripts/job_check.py, which joins with no arguments and checks its rank, the
global device list (N*K devices), a value gathered from every process, and that it listens on
loopback only; the test checks every rank reported, with its output prefixed by its rank."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from spmd.launch import main as spmd_run

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


def spmd_run_command(*args, timeout=90, cwd=None) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "spmd.launch", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)
    return done, time.monotonic() - start


def script(name: str) -> str:
    return os.path.join(SCRIPTS, name)


def assert_job_ok(done, n, k):
    assert done.returncode == 0, done.stderr
    for i in range(n):
        line = (f"[{i}] process {i} of {n}: {n * k} devices, {k} local, "
                f"gathered {list(range(n))}, interfaces ")
        assert line in done.stdout, done.stdout
        assert f"[{i}] stderr of process {i}\n" in done.stderr
    # every output line carries its rank
    assert all(re.match(r"\[\d\] ", line) for line in done.stdout.splitlines()), done.stdout


@pytest.mark.timeout(120)
@pytest.mark.parametrize("launcher,n,k", [("local", 2, 2), ("local", 4, 1), ("mpi", 2, 2)])
def test_job_runs(launcher, n, k):
    flags = ["--mpi"] if launcher == "mpi" else []
    done, _ = spmd_run_command("-n", n, *flags, "--cpu-devices", k, script("job_check.py"), n, k)
    assert_job_ok(done, n, k)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.timeout(120)
@pytest.mark.parametrize("launcher,n,mode", [("local", 3, "plain"), ("local", 3, "stubborn"),
                                             ("mpi", 2, "plain")])
def test_a_dead_process_stops_the_job(tmp_path, launcher, n, mode):
    flags = ["--mpi"] if launcher == "mpi" else ["--grace", "1"]
    done, seconds = spmd_run_command("-n", n, *flags, script("die_after_start.py"), tmp_path,
                                     mode)
    assert done.returncode != 0 and seconds < 30, (done.returncode, seconds, done.stderr)
    if launcher == "local":
        assert done.returncode == 3
        assert f"spmd-run: process 1 exited with code 3; stopping the other {n - 1} process(es)" \
            in done.stderr, done.stderr
        if mode == "stubborn":
            assert "spmd-run: process 0 still running after 1 s; sending SIGKILL" in done.stderr
    survivors = [int((tmp_path / f"{i}.pid").read_text()) for i in range(n) if i != 1]
    assert len(survivors) == n - 1
    deadline = time.monotonic() + 5
    while any(map(_alive, survivors)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, survivors)), survivors


# ---------------------------------------------------------------- the pieces, in-process
def rank_output(*command, rank="7"):
    return subprocess.run([sys.executable, "-m", "spmd.launch.rank_output", "--rank", rank, "--",
                           sys.executable, "-c", *command], capture_output=True, text=True,
                          timeout=30)


def test_rank_output_prefixes_each_line_and_keeps_the_exit_code():
    done = rank_output("import sys; print('a'); print('b\\nc'); sys.stderr.write('no newline');"
                       " sys.exit(4)")
    assert done.returncode == 4
    assert done.stdout == "[7] a\n[7] b\n[7] c\n"
    assert done.stderr == "[7] no newline\n"


def test_rank_output_ends_with_the_commands_signal():
    done = rank_output("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == -9


def test_rank_output_rank_from_the_launchers_variables():
    done = subprocess.run([sys.executable, "-m", "spmd.launch.rank_output", "--", sys.executable,
                           "-c", "print('hi')"], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PMI_RANK": "5", "PMI_SIZE": "8"})
    assert (done.returncode, done.stdout) == (0, "[5] hi\n")


PARSE = [
    (["-n", "2", "s.py"], dict(num_processes=2, mpi=False, ray=False, ray_address=None,
                               script="s.py", args=[])),
    (["-n", "2", "--ray", "s.py", "x"], dict(ray=True, ray_address=None, script="s.py",
                                             args=["x"])),
    (["-n", "2", "--ray", "127.0.0.1:6379", "s.py"], dict(ray=True, ray_address="127.0.0.1:6379")),
    (["--ray", "auto", "-n", "2", "s.py"], dict(ray=True, ray_address="auto")),
    (["-n", "2", "--ray", "ray://head:10001", "s.py"], dict(ray_address="ray://head:10001")),
    (["-n", "4", "--cpu-devices", "2", "--mpi", "s.py", "--ray", "1.2.3.4:5"],
     dict(mpi=True, ray=False, cpu_devices=2, args=["--ray", "1.2.3.4:5"])),
]


@pytest.mark.parametrize("argv,expected", PARSE, ids=[" ".join(a) for a, _ in PARSE])
def test_parse(tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.py").write_text("")
    args = vars(spmd_run.parse(argv))
    assert {key: args[key] for key in expected} == expected


@pytest.mark.parametrize("argv,message", [
    (["-n", "0", "s.py"], "-n must be at least 1, got 0"),
    (["-n", "2", "--cpu-devices", "0", "s.py"], "--cpu-devices must be at least 1, got 0"),
    (["-n", "2", "missing.py"], "no such script: missing.py"),
    (["-n", "2", "--mpi", "--ray", "s.py"], "argument --ray: not allowed with argument --mpi"),
    (["s.py"], "the following arguments are required: -n"),
])
def test_parse_errors(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.py").write_text("")
    with pytest.raises(SystemExit):
        spmd_run.parse(argv)
    assert message in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_interrupting_spmd_run_stops_the_job(tmp_path):
    run = subprocess.Popen([sys.executable, "-m", "spmd.launch", "-n", "2",
                            script("sleep_forever.py"), str(tmp_path)],
                           stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("*.pid"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(pids) == 2
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 128 + signal.SIGINT
    assert "spmd-run: received SIGINT; stopping the job" in run.stderr.read()
    time.sleep(0.2)
    assert not any(map(_alive, pids)), pids


def test_a_script_that_never_joins_its_job_is_warned_on_every_process():
    done, _ = spmd_run_command("-n", "2", "--cpu-devices", "1", script("never_initializes.py"))
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())
    for rank in range(2):
        assert (f"never_initializes.py:6: RuntimeWarning: spmd-run started this process as "
                f"process {rank} of 2, but it computes before spmd.distributed.initialize() was "
                f"called, so it runs alone") in said, done.stderr
        assert f"[{rank}] sum 3.0" in done.stdout


def test_a_single_process_run_is_not_warned():
    done = subprocess.run([sys.executable, script("never_initializes.py")], capture_output=True,
                          text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("SPMD_")})
    assert done.returncode == 0 and "RuntimeWarning" not in done.stderr, done.stderr
