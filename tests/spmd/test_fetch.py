"""Fetching the results of multi-device programs: every way of reading them back equals NumPy,
none tries to import jax (jaxlib's per-device views do, and swallow a Ctrl-C that lands during
the attempt), and Ctrl-C stops a loop of fetches every time."""
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import spmd
from spmd import lax
from spmd.data import replicate, unreplicate
from spmd.transforms import dtypes

pytestmark = pytest.mark.usefixtures("poisoned_jax")  # (tests/conftest.py)

HOST = np.arange(8 * 3).reshape(8, 3) % 7 - 3


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float16, dtypes.bfloat16,
                                   np.complex64])
def test_every_fetch_of_a_stacked_result_equals_numpy(dtype):
    host = HOST.astype(dtype)
    double = spmd.pmap(lambda x: x * 2)
    expected = host * 2
    fresh = double(host)  # rows read before the whole is fetched (and cached)
    for i in range(-8, 8):
        got = np.asarray(fresh[i])
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected[i])
    whole = np.asarray(double(host))
    assert whole.dtype == dtype
    np.testing.assert_array_equal(whole, expected)
    np.testing.assert_array_equal(unreplicate(double(host)), expected[0])


def test_fetch_of_a_replicated_result_equals_numpy():
    total = spmd.pmap(lambda x: lax.psum(x, "i"), axis_name="i", out_axes=None)
    host = HOST.astype(np.float32)
    out = total(host)
    assert out.is_replicated
    np.testing.assert_array_equal(np.asarray(out), host.sum(axis=0))


def test_unreplicate_gives_the_first_replica():
    params = {"w": np.arange(6.0, dtype=np.float32).reshape(2, 3), "b": np.float32(1.5)}
    back = unreplicate(replicate(params))
    np.testing.assert_array_equal(back["w"], params["w"])
    np.testing.assert_array_equal(back["b"], params["b"])


# ---------------------------------------------------------------- Ctrl-C
FETCH_LOOP = pathlib.Path(__file__).parent / "scripts" / "fetch_loop.py"
RUNS, BATCH = 10, 5  # per kind of fetch: 20 interrupted programs in all, 5 running at once
STOP_WITHIN_S = 5


@pytest.mark.parametrize("kind", ["asarray", "index"])
def test_ctrl_c_stops_a_loop_of_fetches_every_time(kind):
    delays = np.random.default_rng(0).uniform(0, 0.05, RUNS)  # land anywhere in the loop
    for start in range(0, RUNS, BATCH):
        programs = [subprocess.Popen([sys.executable, str(FETCH_LOOP), kind], text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    for _ in range(BATCH)]
        try:
            for p in programs:
                assert p.stdout.readline() == "looping\n", p.communicate()[1]
            for p, delay in zip(programs, delays[start:start + BATCH]):
                time.sleep(delay)
                p.send_signal(signal.SIGINT)
            for p in programs:
                try:
                    _, err = p.communicate(timeout=STOP_WITHIN_S)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"Ctrl-C did not stop a loop of fetches ({kind}) within "
                                f"{STOP_WITHIN_S} s: the interrupt was swallowed")
                assert p.returncode != 0 and "KeyboardInterrupt" in err, err
        finally:
            for p in programs:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
