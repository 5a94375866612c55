"""The stall watch in one process (cluster/stall_watch.py): its settings, what it says about a
waiting execution (from what the other processes published), and its waiter thread. Real jobs
that stall are in tests/launch/test_collective_stall.py."""
import io
import threading
import time

import pytest

import spmd
from spmd.cluster import stall_watch
from spmd.cluster.stall_watch import Tracked, Watch, limits
from spmd.transforms import backend


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize("argument,env,expected", [
    (None, {}, (60.0, 1800.0)),
    (None, {"SPMD_COLLECTIVE_TIMEOUT": "8"}, (4.0, 8.0)),   # the warning halfway when sooner
    (None, {"SPMD_COLLECTIVE_TIMEOUT": "600"}, (60.0, 600.0)),
    (None, {"SPMD_COLLECTIVE_WARN": "2", "SPMD_COLLECTIVE_TIMEOUT": " 8.5 "}, (2.0, 8.5)),
    (30, {"SPMD_COLLECTIVE_TIMEOUT": "8"}, (15.0, 30.0)),    # the argument wins
    (None, {"SPMD_COLLECTIVE_WARN": "100"}, (100.0, 1800.0)),
])
def test_limits(argument, env, expected):
    assert limits(argument, env) == expected


@pytest.mark.parametrize("argument,env,message", [
    (None, {"SPMD_COLLECTIVE_TIMEOUT": "abc"},
     "SPMD_COLLECTIVE_TIMEOUT must be a number of seconds, got 'abc'"),
    (None, {"SPMD_COLLECTIVE_TIMEOUT": "nan"},
     "SPMD_COLLECTIVE_TIMEOUT must be a positive, finite number of seconds, got 'nan'"),
    (None, {"SPMD_COLLECTIVE_WARN": "0"},
     "SPMD_COLLECTIVE_WARN must be a positive, finite number of seconds, got '0'"),
    (-1, {}, "collective_timeout must be a positive, finite number of seconds, got -1"),
    (True, {}, "collective_timeout must be a number of seconds, got 'True'"),
    (None, {"SPMD_COLLECTIVE_WARN": "8", "SPMD_COLLECTIVE_TIMEOUT": "8"},
     r"SPMD_COLLECTIVE_WARN=8 s must be shorter than SPMD_COLLECTIVE_TIMEOUT=8 s"),
    (5, {"SPMD_COLLECTIVE_WARN": "60"},
     r"SPMD_COLLECTIVE_WARN=60 s must be shorter than collective_timeout=5 s"),
    (None, {"SPMD_COLLECTIVE_WARN": "1e4"},
     r"SPMD_COLLECTIVE_WARN=10000 s must be shorter than the default timeout=1800 s"),
])
def test_invalid_limits_name_the_setting(argument, env, message):
    with pytest.raises(ValueError, match=message):
        limits(argument, env)


def test_initialize_checks_collective_timeout_first():
    with pytest.raises(ValueError, match="collective_timeout must be a positive"):
        spmd.distributed.initialize("127.0.0.1:1", 2, 1, collective_timeout=0)
    assert not spmd.distributed.is_initialized()


# ---------------------------------------------------------------- what it says
class FakeStore:
    """The coordinator's key-value store, as the watch uses it."""

    def __init__(self):
        self.values = {}

    def key_value_set(self, key, value, allow_overwrite=False):
        if key in self.values and not allow_overwrite:
            raise backend.JaxRuntimeError(f"ALREADY_EXISTS: {key}")
        self.values[key] = value

    def key_value_try_get(self, key):
        if key not in self.values:
            raise backend.JaxRuntimeError(f"NOT_FOUND: {key}")
        return self.values[key]

    def key_value_dir_get(self, prefix):
        return [(k, v) for k, v in self.values.items() if k.startswith(prefix)]


class Process:
    """One process's watch on the shared store, with its output and its end recorded."""

    def __init__(self, store, me, count=3):
        self.out, self.ended = io.StringIO(), []
        self.watch = Watch(store, me, count, warn=2, timeout=8,
                           end=lambda: self.ended.append(True), out=self.out)
        self.watch.grace = 0  # no one else checks in this test

    def run(self, name, calls):
        return self.watch.started(name, calls)

    def wait_in(self, record, seconds):
        """As if the waiter had waited `seconds` for `record`."""
        record.start = time.monotonic() - seconds
        self.watch.waiting_on = record


def test_the_waiting_process_names_who_has_not_arrived_once_then_ends_the_job(monkeypatch):
    monkeypatch.setattr(stall_watch, "_ending", threading.Event())
    store = FakeStore()
    p0, p1, p2 = (Process(store, i) for i in range(3))
    for p in (p0, p1, p2):
        p.run("init", 1)
        for call in range(1, 5 if p is not p2 else 3):
            p.run("step", call)
    p1.watch.check(), p2.watch.check()  # they publish what they last started
    record = p0.run("step", 5)
    p0.wait_in(record, 1)
    p0.watch.check()
    assert p0.out.getvalue() == ""  # not yet
    p0.wait_in(record, 3)
    p0.watch.check()
    p0.watch.check()
    warning = p0.out.getvalue()
    assert warning.count("\n") == 1, warning
    assert warning.startswith(
        "spmd: warning: process 0 has waited over 2 s for pmap of step (its call 5) to finish; "
        "processes [1, 2] have not started it (process 1 last started pmap of step (its call "
        "4) "), warning
    assert "process 2 last started pmap of step (its call 2) " in warning
    assert warning.endswith("It goes on waiting, and after 8 s (SPMD_COLLECTIVE_TIMEOUT) the "
                            "job ends\n")
    assert not stall_watch.ending()
    p0.wait_in(record, 9)
    p0.watch.check()
    error = p0.out.getvalue().splitlines()[1]
    assert error.startswith("spmd: error: a collective between processes timed out: process 0 "
                            "waited over 8 s for pmap of step (its call 5); processes [1, 2] have "
                            "not started it (process 1 last started"), error
    assert p0.ended and stall_watch.ending()
    # every other process reads the error at its next tick, says so, and ends too
    for p in (p1, p2):
        p.watch.check()
        assert p.out.getvalue() == (f"spmd: error: process {p.watch.me} ends with the job: "
                                    f"{error[len('spmd: error: '):]}\n")
        assert p.ended


def test_when_everyone_has_started_it_the_collective_itself_waits(monkeypatch):
    monkeypatch.setattr(stall_watch, "_ending", threading.Event())
    store = FakeStore()
    p0, p1 = Process(store, 0, 2), Process(store, 1, 2)
    record = p0.run("step", 1)
    p1.run("step", 1)
    p1.watch.check()
    p0.wait_in(record, 2.5)
    p0.watch.check()
    assert "every process has started it, so it waits inside a collective" in p0.out.getvalue()
    assert not p0.ended


def test_a_process_that_started_nothing_is_named():
    p0 = Process(FakeStore(), 0, 2)
    p0.wait_in(p0.run("train_step", 1), 3)
    p0.watch.check()
    assert ("processes [1] have not started it (process 1 has started no pmap across "
            "processes)") in p0.out.getvalue()


# ---------------------------------------------------------------- the waiter thread
class Token:
    def __init__(self):
        self.done = threading.Event()

    def block_until_ready(self):
        self.done.wait()


def test_the_waiter_follows_the_executions(monkeypatch):
    p0 = Process(FakeStore(), 0, 2)
    watch = p0.watch
    watch.tick = 0.01
    monkeypatch.setattr(stall_watch, "_active", [watch])
    watch.start()
    try:
        step = Tracked("step")
        tokens = [Token() for _ in range(3)]
        for token in tokens[:2]:
            token.done.set()
            assert step.run(lambda bufs, t=token: (bufs, t), ["out"]) == (["out"], token)
        with pytest.raises(ZeroDivisionError):  # a dispatch that fails is over
            step.run(lambda bufs: 1 / 0, [])
        step.run(lambda bufs: (bufs, tokens[2]), [])
        assert watch.last.calls == 4
        deadline = time.monotonic() + 5
        while watch.waiting_on is None or watch.waiting_on.calls != 4:
            assert time.monotonic() < deadline, list(watch.records)
            time.sleep(0.01)
        tokens[2].done.set()
        while watch.records:
            assert time.monotonic() < deadline, list(watch.records)
            time.sleep(0.01)
    finally:
        watch.stop()


def test_without_a_watch_a_program_just_runs(monkeypatch):
    monkeypatch.setattr(stall_watch, "_active", [None])
    assert Tracked("step").run(lambda bufs: (bufs, None), [1]) == ([1], None)


def test_a_tiny_warning_limit_does_not_make_the_threads_spin():
    assert Watch(FakeStore(), 0, 2, warn=0.001, timeout=1, end=None).tick == 0.05
    assert Watch(FakeStore(), 0, 2, warn=60, timeout=1800, end=None).tick == 0.5


def test_stopping_the_watch_waits_for_its_threads(monkeypatch):
    """Leaving the job (shutdown) must not leave the threads inside a jaxlib call while the
    interpreter finalizes: that aborts a clean run."""
    watch = Watch(FakeStore(), 0, 2, warn=0.2, timeout=10, end=None)
    monkeypatch.setattr(stall_watch, "_active", [watch])
    watch.start()
    assert all(t.is_alive() for t in watch.threads)
    stall_watch.stop()
    assert not any(t.is_alive() for t in watch.threads)
    assert stall_watch._active == [None]


def test_a_jit_over_a_mesh_is_named_as_such(monkeypatch):
    watch = Process(FakeStore(), 0, 2).watch
    monkeypatch.setattr(stall_watch, "_active", [watch])
    Tracked("step", "jit").run(lambda bufs: (bufs, Token()), [])
    assert stall_watch.describe(watch.last.name, watch.last.calls) == "jit of step (its call 1)"
