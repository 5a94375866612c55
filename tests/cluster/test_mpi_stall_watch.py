"""The watch that ends a process waiting in an MPI call for a process that has left the job
(cluster/mpi_stall_watch.py), with a stand-in for the MPI call (an Event it waits on) and for
the coordinator's record of who left. The real case runs in tests/launch and tests/cluster
jobs (test_fail_fast.py, test_job_endings.py)."""
import threading
import time

import pytest

from spmd.cluster import mpi_stall_watch
from spmd.cluster.mpi_stall_watch import StallWatch, WatchedComm


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(mpi_stall_watch, "SUSPECT_SECONDS", 0.1)
    monkeypatch.setattr(mpi_stall_watch, "GRACE_SECONDS", 0.3)
    monkeypatch.setattr(mpi_stall_watch, "POLL_SECONDS", 0.02)


class Comm:
    """An MPI communicator whose Allreduce waits until `finish` is set."""

    def __init__(self):
        self.finish = threading.Event()
        self.size = 2

    def Allreduce(self, x, out, op=None):
        self.finish.wait(10)
        return ("reduced", x, out, op)

    def Get_size(self):
        return self.size

    def Split(self, color, key=0):
        """A sub-communicator, or a null one (false, as mpi4py's) for a negative color."""
        return Comm() if color >= 0 else NullComm()


class NullComm:
    def __bool__(self):
        return False


def watched(departed):
    stalls, asked = [], []

    def who_left():
        asked.append(time.monotonic())
        return dict(departed)
    comm = Comm()
    return WatchedComm(comm, StallWatch(0, who_left, lambda *p: stalls.append(p))), comm, \
        stalls, asked


def test_a_call_still_waiting_after_a_peer_left_ends_the_process_naming_it():
    departed = {0: "left"}  # this process's own entry never counts
    wrapped, comm, stalls, _ = watched(departed)
    caller = threading.Thread(target=wrapped.Allreduce, args=(1, 2), kwargs={"op": "sum"})
    caller.start()
    time.sleep(0.4)
    assert stalls == []  # nobody else left: a slow collective is no stall
    departed[1] = "crashed"
    deadline = time.monotonic() + 5
    while not stalls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stalls == [(1, "crashed")]
    comm.finish.set()
    caller.join(5)


def test_calls_pass_through_and_quick_calls_never_ask_the_coordinator():
    wrapped, comm, stalls, asked = watched({1: "left"})
    comm.finish.set()
    assert wrapped.Allreduce(1, 2, op="max") == ("reduced", 1, 2, "max")
    assert wrapped.Get_size() == 2 and wrapped.size == 2
    time.sleep(0.3)
    assert stalls == [] and asked == []


def test_stopping_the_watch_waits_for_its_thread():
    wrapped, _, stalls, _ = watched({})
    thread = wrapped._watch._thread
    assert thread.is_alive()
    wrapped.stop_watching()
    assert not thread.is_alive() and stalls == []


def test_a_sub_communicator_is_watched_by_the_same_watch():
    """pmap's collectives in axis_index_groups wait in sub-communicators made by Split: a call
    there that still waits after a peer left ends the process too; a null one stays null."""
    departed = {}
    wrapped, _, stalls, _ = watched(departed)
    part = wrapped.Split(0, 1)
    assert isinstance(part, WatchedComm) and part._watch is wrapped._watch
    assert isinstance(wrapped.Split(-32766, 1), NullComm)
    caller = threading.Thread(target=part.Allreduce, args=(1, 2))
    caller.start()
    departed[1] = "left"
    deadline = time.monotonic() + 5
    while not stalls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stalls == [(1, "left")]
    part._comm.finish.set()
    caller.join(5)
