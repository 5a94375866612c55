"""The pieces of spmd-run --hosts / --hostfile, in-process: host lists and files, the rank
layout, the ssh and Hydra command lines, and the remote end's tether to its stdin."""
import os
import subprocess
import sys
import time

import pytest

from spmd.launch import hosts, mpi_hosts, ssh_launch
from spmd.launch.hosts import HostSlots
from tests.launch.test_spmd_run import test_parse as check_parse
from tests.launch.test_spmd_run import test_parse_errors as check_parse_error

H = HostSlots


@pytest.mark.parametrize("text,expected", [
    ("a,b", [H("a", 1), H("b", 1)]),
    ("a:2, b:3,", [H("a", 2), H("b", 3)]),
    ("10.0.0.1:4,[fe80::1]:2,fe80::2", [H("10.0.0.1", 4), H("fe80::1", 2), H("fe80::2", 1)]),
])
def test_host_list(text, expected):
    assert hosts.parse_host_list(text) == expected


def test_hostfile_forms_comments_and_blank_lines():
    text = "# cluster\n\nnode1 slots=4\nnode2:2   # two\n  node3\n"
    assert hosts.parse_hostfile(text) == [H("node1", 4), H("node2", 2), H("node3", 1)]


@pytest.mark.parametrize("text,message", [
    ("a:0", r"--hosts 'a:0': the slot count must be a whole number of at least 1, got '0'"),
    ("a:x", r"the slot count must be a whole number of at least 1, got 'x'"),
    ("a,b,a:2", r"lists host 'a' twice; give it once, with its slot count"),
    (" , ", r"--hosts ' , ' names no host"),
])
def test_host_list_errors(text, message):
    with pytest.raises(hosts.HostError, match=message):
        hosts.parse_host_list(text)


def test_hostfile_errors_name_the_line(tmp_path):
    with pytest.raises(hosts.HostError, match=r"f, line 2: expected 'host', 'host:N' or 'host "
                                              r"slots=N', got 'b max_slots=2'"):
        hosts.parse_hostfile("a\nb max_slots=2\n", "f")
    with pytest.raises(hosts.HostError, match=r"cannot read the host file .*missing: No such"):
        hosts.read_hostfile(str(tmp_path / "missing"))


def test_layout_fills_each_host_in_turn():
    listed = [H("a", 2), H("b", 3)]
    assert hosts.layout(listed, 4) == ["a", "a", "b", "b"]
    assert hosts.layout(listed, 1) == ["a"]
    with pytest.raises(hosts.HostError, match=r"^-n 6 needs 6 slots, but the hosts have 5: "
                                              r"a \(2\), b \(3\); add hosts or slots"):
        hosts.layout(listed, 6)


def test_this_machine_and_unknown_hosts():
    assert hosts.is_this_machine("localhost") and hosts.is_this_machine("127.0.0.1")
    assert not hosts.is_this_machine("192.0.2.1")  # TEST-NET-1: never one of ours
    with pytest.raises(hosts.HostError, match=r"unknown host 'no-such-host.invalid' in the host "
                                              r"list: it does not resolve"):
        hosts.is_this_machine("no-such-host.invalid")


def test_coordinator_host():
    assert hosts.coordinator_host("localhost", False) == "127.0.0.1"
    assert hosts.coordinator_host("192.0.2.1", True) == "192.0.2.1"
    # a first host that is loopback while the job spans hosts: the route to the others
    assert hosts.coordinator_host("localhost", True, lambda: "10.1.2.3") == "10.1.2.3"
    with pytest.raises(hosts.HostError, match=r"the first host 'localhost' resolves to "
                                              r"loopback, which the other hosts cannot reach"):
        hosts.coordinator_host("localhost", True)


def test_ssh_command(monkeypatch):
    monkeypatch.delenv(ssh_launch.SSH_VARIABLE, raising=False)
    assert ssh_launch.ssh_command(None) == ["ssh", "-o", "BatchMode=yes"]
    monkeypatch.setenv(ssh_launch.SSH_VARIABLE, "ssh -p 2222")
    assert ssh_launch.ssh_command(None) == ["ssh", "-p", "2222"]
    assert ssh_launch.ssh_command("'my ssh' -i k") == ["my ssh", "-i", "k"]
    with pytest.raises(ValueError, match="the ssh command is empty"):
        ssh_launch.ssh_command(" ")


def test_remote_command_survives_the_shell(tmp_path):
    """What sh -c makes of the remote line: the folder, the variables and every word intact."""
    folder = tmp_path / "a dir; $x"
    folder.mkdir()
    env = {"SPMD_PROCESS_ID": "1", "ODD": "it's $HOME"}
    probe = [sys.executable, "-c", "import os, sys; print(os.getcwd(), os.environ['ODD'], "
                                   "os.environ['SPMD_PROCESS_ID'], sys.argv[1:])", "x y", "'z"]
    line = ssh_launch.remote_command(str(folder), env, probe)
    argv = ssh_launch.over_ssh(["ssh", "-p", "2"], "h", str(folder), env, probe)
    assert argv == ["ssh", "-p", "2", "h", line]
    # stdin stays open, as ssh's channel does: its end would stop the command
    proc = subprocess.Popen(["sh", "-c", line], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    out = proc.stdout.read()
    assert (proc.wait(timeout=30), out) == (0, f"{folder} it's $HOME 1 ['x y', \"'z\"]\n")
    proc.stdin.close()


def test_forwarded_environment_leaves_this_hosts_own_variables():
    env = {"SPMD_CPU_DEVICES": "2", "XLA_FLAGS": "-x", "PYTHONPATH": "/p", "UCX_TLS": "tcp",
           "PATH": "/bin", "HOME": "/root", "SPMD_HOST_ADDRESS": "10.0.0.1"}
    assert ssh_launch.forwarded_environment(env) == {
        "SPMD_CPU_DEVICES": "2", "XLA_FLAGS": "-x", "PYTHONPATH": "/p", "UCX_TLS": "tcp"}


@pytest.mark.timeout(60)
def test_the_remote_end_stops_its_command_when_stdin_ends(tmp_path):
    """The tether: closing its stdin (a closed ssh connection) stops the command (SIGTERM, then
    SIGKILL for one that ignores it); a command that ends by itself gives its status."""
    tether = [sys.executable, "-m", "spmd.launch.ssh_launch", "--"]
    stubborn = ("import signal, time, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)")
    # the three tethers run side by side: their start-ups and the stubborn one's grace overlap
    ends = subprocess.Popen([*tether, sys.executable, "-c", "raise SystemExit(5)"],
                            stdin=subprocess.PIPE)
    stopped = [(subprocess.Popen([*tether, sys.executable, "-c", code], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True), expected)
               for code, expected in (("import time; print('ready', flush=True); "
                                       "time.sleep(60)", 128 + 15), (stubborn, 128 + 9))]
    assert ends.wait(timeout=30) == 5
    ends.stdin.close()
    for proc, _ in stopped:
        assert proc.stdout.readline() == "ready\n"
    closed = []
    for proc, _ in stopped:
        closed.append(time.monotonic())
        proc.stdin.close()
    for (proc, expected), start in zip(stopped, closed):
        assert proc.wait(timeout=30) == expected
        assert time.monotonic() - start < ssh_launch.TETHER_GRACE_SECONDS + 5


def test_ucx_transports_follow_the_hosts():
    assert mpi_hosts.ucx_transports(None) == "self,sm,cma"
    assert mpi_hosts.ucx_transports(["a", "a"]) == "self,sm,cma"
    assert mpi_hosts.ucx_transports(["a", "b"]) == "self,sm,cma,tcp"


def test_hydra_options(monkeypatch):
    monkeypatch.delenv(ssh_launch.SSH_VARIABLE, raising=False)
    listed = [H("a", 2), H("fe80::1", 1)]
    with mpi_hosts.hydra_options(None, None) as options:
        assert options == []
    with mpi_hosts.hydra_options(listed, None) as options:
        assert options == ["-hosts", "a:2,[fe80::1]:1"]
    with mpi_hosts.hydra_options(listed, "/usr/bin/myssh") as options:
        assert options[2:] == ["-launcher", "ssh", "-launcher-exec", "/usr/bin/myssh"]
    with mpi_hosts.hydra_options(listed, "ssh -p 2222 -o 'A=b c'") as options:
        wrapper = options[-1]
        with open(wrapper) as f:
            assert f.read() == "#!/bin/sh\nexec ssh -p 2222 -o 'A=b c' \"$@\"\n"
        assert os.access(wrapper, os.X_OK)
    assert not os.path.exists(wrapper)


PARSE = [
    (["-n", "3", "--hosts", "a:2,b", "s.py"],
     dict(host_list=[H("a", 2), H("b", 1)], placement=["a", "a", "b"], ssh=None)),
    (["-n", "2", "--mpi", "--hostfile", "hf", "--ssh", "ssh -p 2", "s.py", "--hosts", "x"],
     dict(mpi=True, host_list=[H("c", 1), H("d", 4)], placement=["c", "d"], ssh="ssh -p 2",
          args=["--hosts", "x"])),
    (["-n", "2", "s.py"], dict(host_list=None, placement=None)),
]


@pytest.mark.parametrize("argv,expected", PARSE, ids=[" ".join(a) for a, _ in PARSE])
def test_parse(tmp_path, monkeypatch, argv, expected):
    (tmp_path / "hf").write_text("c\nd slots=4\n")
    check_parse(tmp_path, monkeypatch, argv, expected)


@pytest.mark.parametrize("argv,message", [
    (["-n", "3", "--hosts", "a,b", "s.py"], "-n 3 needs 3 slots, but the hosts have 2: a (1), "
                                            "b (1); add hosts or slots"),
    (["-n", "2", "--ray", "--hosts", "a,b", "s.py"], "--hosts does not apply to --ray"),
    (["-n", "2", "--hostfile", "nofile", "s.py"], "cannot read the host file nofile"),
    (["-n", "2", "--hosts", "a", "--hostfile", "f", "s.py"],
     "argument --hostfile: not allowed with argument --hosts"),
    (["-n", "2", "--ssh", "ssh -p 2", "s.py"], "--ssh starts the processes of other hosts: "
                                              "give them with --hosts or --hostfile"),
])
def test_parse_errors(tmp_path, monkeypatch, capsys, argv, message):
    check_parse_error(tmp_path, monkeypatch, capsys, argv, message)
