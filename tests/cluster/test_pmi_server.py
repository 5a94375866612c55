"""The PMI-1 server (cluster/pmi_server.py) spoken to as MPICH speaks it, over its socket, by
two ranks whose store is a stand-in for the coordinator's (a dict and named barriers); and the
MPI world's checks before MPI_Init (cluster/mpi_world.py). The real world, formed by real
processes, runs in test_mpi_world.py."""
import os
import socket
import sys
import threading
import types

import pytest

from spmd.cluster import mpi_world
from spmd.cluster.pmi_server import PmiServer, parse


class Store:
    """The coordinator's key-value store and barriers, for `size` threads of one process."""

    def __init__(self, size: int):
        self.values: dict[str, str] = {}
        self.changed = threading.Condition()
        self.size = size
        self.barriers: dict[str, threading.Barrier] = {}

    def key_value_set(self, key, value, allow_overwrite=False):
        with self.changed:
            assert allow_overwrite or key not in self.values
            self.values[key] = value
            self.changed.notify_all()

    def blocking_key_value_get(self, key, timeout_ms):
        with self.changed:
            if not self.changed.wait_for(lambda: key in self.values, timeout_ms / 1000):
                raise TimeoutError(f"DEADLINE_EXCEEDED: {key}")
            return self.values[key]

    def key_value_try_get(self, key):
        with self.changed:
            if key not in self.values:
                raise KeyError(f"NOT_FOUND: {key}")
            return self.values[key]

    def wait_at_barrier(self, name, timeout_ms):
        with self.changed:
            barrier = self.barriers.setdefault(name, threading.Barrier(self.size))
        try:
            barrier.wait(timeout_ms / 1000)
        except threading.BrokenBarrierError:
            raise TimeoutError(f"DEADLINE_EXCEEDED: barrier {name} timed out") from None


class Mpich:
    """MPICH's side of one rank's PMI connection: a request line, the reply line."""

    def __init__(self, fd: int):
        self.sock = socket.socket(fileno=fd)
        self.file = self.sock.makefile("rb")

    def ask(self, line: str) -> dict[str, str]:
        self.sock.sendall(line.encode() + b"\n")
        return parse(self.file.readline().decode().rstrip("\n"))


def two_ranks(store, timeout_ms=5000):
    servers = [PmiServer(store, r, 2, "job-7", "test/job-7", timeout_ms) for r in range(2)]
    return servers, [Mpich(s.start()) for s in servers]


def test_parse_keeps_escaped_spaces_in_values():
    assert parse("cmd=put kvsname=k key=a value=b\\ c flag") == {
        "cmd": "put", "kvsname": "k", "key": "a", "value": "b\\ c", "flag": ""}
    assert parse("") == {}


def test_what_mpi_init_asks_is_answered():
    servers, (mpich, _) = two_ranks(Store(2))
    try:
        assert mpich.ask("cmd=init pmi_version=1 pmi_subversion=1") == {
            "cmd": "response_to_init", "pmi_version": "1", "pmi_subversion": "1", "rc": "0"}
        assert mpich.ask("cmd=get_maxes")["kvsname_max"] == "256"
        assert mpich.ask("cmd=get_appnum")["appnum"] == "0"
        assert mpich.ask("cmd=get_universe_size")["size"] == "2"
        assert mpich.ask("cmd=get_my_kvsname")["kvsname"] == "job-7"
        # a job attribute that no one defined is "not found" at once (MPICH does without it)
        assert mpich.ask("cmd=get kvsname=job-7 key=PMI_process_mapping") == {
            "cmd": "get_result", "rc": "-1", "found": "FALSE", "msg": "key_not_found"}
        assert mpich.ask("cmd=spawn nprocs=2") == {
            "cmd": "spawn_result", "rc": "-1", "msg": "unsupported_by_spmd"}
        assert servers[0].commands == ["init", "get_maxes", "get_appnum", "get_universe_size",
                                       "get_my_kvsname", "get", "spawn"]
    finally:
        for s in servers:
            s.stop()


def test_two_ranks_exchange_through_the_store_after_a_barrier():
    store = Store(2)
    servers, ranks = two_ranks(store)
    replies = [None, None]

    def rank(r):
        ranks[r].ask(f"cmd=put kvsname=job-7 key=host{r} value=addr\\ {r}")
        barrier = ranks[r].ask("cmd=barrier_in")
        replies[r] = (barrier, ranks[r].ask(f"cmd=get kvsname=job-7 key=host{1 - r}"))
    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        for r in range(2):
            assert replies[r] == ({"cmd": "barrier_out", "rc": "0"},
                                  {"cmd": "get_result", "rc": "0", "found": "TRUE",
                                   "value": f"addr\\ {1 - r}"})
        assert store.values["test/job-7/kvs/host0"] == "addr\\ 0"  # under the job's prefix
    finally:
        for s in servers:
            s.stop()


def test_a_barrier_the_other_rank_never_reaches_fails_instead_of_hanging():
    servers, (mpich, _) = two_ranks(Store(2), timeout_ms=200)
    try:
        reply = mpich.ask("cmd=barrier_in")
        assert reply["cmd"] == "barrier_out" and reply["rc"] == "-1", reply
        assert "DEADLINE_EXCEEDED" in reply["msg"]
    finally:
        for s in servers:
            s.stop()


def test_abort_is_reported_and_stop_leaves_the_finalize_answer_for_mpich(capsys):
    servers, (mpich, _) = two_ranks(Store(2))
    mpich.sock.sendall(b"cmd=abort exitcode=3 mesg=out_of_memory\n")
    for s in servers:
        s.stop()  # joins the thread: the abort was read by then
    assert servers[0].aborted == "out_of_memory"
    assert "process 0 called MPI_Abort: out_of_memory" in capsys.readouterr().err
    # MPICH's exit handler asks once more after Python's threads are gone: answered already
    mpich.sock.sendall(b"cmd=finalize\n")
    assert parse(mpich.file.readline().decode().strip()) == {"cmd": "finalize_ack", "rc": "0"}


def test_a_process_that_cannot_join_stops_every_process_before_mpi_init():
    store = Store(2)
    store.key_value_set(f"{mpi_world.PREFIX}/process/0",
                        '{"problem": "mpi4py is not installed", "host": "h"}')
    with pytest.raises(mpi_world.MpiWorldUnavailable,  # (this process is process 1)
                       match=r"^process 0: mpi4py is not installed$") as raised:
        mpi_world.form(store, 1, 2, timeout_ms=2000)
    assert raised.value.everywhere and not mpi_world.formed()
    assert "PMI_RANK" not in os.environ and "PMI_FD" not in os.environ


def test_without_mpi4py_the_cause_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py raises ImportError
    assert mpi_world.problem_here() == "mpi4py is not installed (pip install mpi4py mpich)"


def test_an_mpi4py_that_cannot_load_its_library_is_named(monkeypatch):
    fake = types.ModuleType("mpi4py")  # as mpi4py is when no libmpi can be found

    def load(name):
        raise RuntimeError("cannot load MPI library\nlibmpi.so: no such file")
    fake.rc, fake.__getattr__ = types.SimpleNamespace(), load
    monkeypatch.setitem(sys.modules, "mpi4py", fake)
    assert mpi_world.problem_here() == "mpi4py cannot load an MPI library (cannot load MPI " \
                                       "library)"


def test_a_second_world_in_one_process_is_refused_saying_why(monkeypatch):
    pytest.importorskip("mpi4py")
    monkeypatch.setattr(mpi_world, "_formed_before", True)  # as after initialize + shutdown
    assert mpi_world.problem_here() == (
        "this process formed an MPI world for an earlier job (before "
        "spmd.distributed.shutdown()), and MPI starts only once per process")


def test_variables_exist_only_during_the_block(monkeypatch):
    monkeypatch.setenv("UCX_TLS", "tcp")
    monkeypatch.delenv("PMI_RANK", raising=False)
    with mpi_world._only_during({"PMI_RANK": "1", "UCX_TLS": "sm"}):
        assert (os.environ["PMI_RANK"], os.environ["UCX_TLS"]) == ("1", "sm")
    assert "PMI_RANK" not in os.environ and os.environ["UCX_TLS"] == "tcp"
