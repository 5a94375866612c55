"""The current trace and the named axes are per thread: one thread traces jitted functions while
another computes eagerly (as the data loader's prefetch thread does), and both get NumPy's
results every time."""
import sys
import threading

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.transforms import core

ROUNDS = 50


def chain(v, i, xp=jnp):
    """Enough operations that a trace of it takes a while."""
    for k in range(6):
        v = xp.tanh(v * (i + k) / 50) + xp.sum(v, axis=0) / 4
    return v


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every 10 us (Python's default is 5 ms, longer than one trace), so that
    the threads interleave inside each other's traces."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def _run_together(*workers):
    errors = []

    def guarded(work):
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread below
            errors.append(e)
    threads = [threading.Thread(target=guarded, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_jit_tracing_in_one_thread_and_eager_ops_in_another(frequent_thread_switches):
    host = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    x = jnp.asarray(host)

    def tracer():
        for i in range(ROUNDS):
            # a fresh function each round, so that every call traces, lowers and compiles
            f = spmd.jit(lambda v, i=i: chain(v, i))
            np.testing.assert_allclose(np.asarray(f(x)), chain(host, i, np), rtol=1e-5,
                                       atol=1e-5)

    def eager():
        for i in range(ROUNDS):
            y = jnp.sin(x) * (i + 1) + jnp.exp(x)
            np.testing.assert_allclose(np.asarray(y), np.sin(host) * (i + 1) + np.exp(host),
                                       rtol=1e-5, atol=1e-5)
            # a named axis bound in this thread only
            s = spmd.vmap(lambda v: spmd.lax.psum(v, "rows"), axis_name="rows")(x)
            np.testing.assert_allclose(np.asarray(s), np.broadcast_to(host.sum(0), host.shape),
                                       rtol=1e-5, atol=1e-5)

    _run_together(tracer, eager)


def test_a_new_thread_starts_with_the_eval_trace_and_no_axes():
    seen = []
    frame = core.AxisFrame("outer", 2, "vmap")
    with core.extend_axis_env(frame), core.set_current_trace(object()):
        thread = threading.Thread(target=lambda: seen.append(
            (core.current_trace() is core.eval_trace, core.axis_env())))
        thread.start()
        thread.join()
        assert core.axis_env() == (frame,)
    assert seen == [(True, ())]
