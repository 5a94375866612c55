"""A process that leaves ends the job within seconds: the others never hang (no launcher here:
this is the distributed runtime's heartbeats and spmd's leaving announcements; spmd-run's
supervision only makes it faster)."""
import pytest

from local_job import run_job

HEARTBEAT = 3  # seconds, as die_after_init.py asks

# (dying process, how it goes, its exit code, what the survivor says)
CASES = [
    (1, "exit", 3, "another task died"),  # the runtime's heartbeats notice
    (0, "exit", 3, "another task died|probably died"),  # the coordinator itself is gone
    (1, "raise", 1, "has left the job without calling it"),
    (1, "sys.exit", 3, "has left the job without calling it"),
    (0, "sys.exit", 3, "has left the job without calling it"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("dying,how,code,survivor_says", CASES,
                         ids=[f"process {d} {h}" for d, h, _, _ in CASES])
def test_survivors_fail_fast(dying, how, code, survivor_says):
    ended = run_job("die_after_init.py", 2, dying, how, timeout=60)
    dead, survivor = ended[dying], ended[1 - dying]
    assert dead.code == code, dead.stderr
    if how == "raise":
        assert "this process fails on purpose" in dead.stderr
    assert survivor.code != 0 and "survivor passed the barrier" not in survivor.stdout
    assert any(s in survivor.stderr for s in survivor_says.split("|")), survivor.stderr[-2000:]
    assert survivor.seconds - dead.seconds < 4 * HEARTBEAT + 5, (dead.seconds, survivor.seconds)
    if how != "exit":  # it left through spmd's exit path, which must not wait for the survivor
        assert dead.seconds < survivor.seconds + 1, (dead.seconds, survivor.seconds)
