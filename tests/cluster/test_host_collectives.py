"""spmd.distributed's host collectives: one process (no runtime: trivially local), the wire
format, and real jobs of 2 and 3 processes (scripts/host_collectives_job.py checks values
against NumPy and every error text on each process)."""
import ml_dtypes
import numpy as np
import pytest

import spmd
from spmd.cluster import host_collectives
from local_job import run_job

TREE = {"a": np.arange(6.0).reshape(2, 3), "b": (np.int8(3), np.array([True, False]))}


def test_one_process_allgather_stacks_and_tiles():
    got = spmd.distributed.process_allgather(TREE)
    for key, want in (("a", TREE["a"][None]),):
        np.testing.assert_array_equal(got[key], want)
    assert got["b"][0].shape == (1,) and got["b"][1].shape == (1, 2)
    np.testing.assert_array_equal(spmd.distributed.process_allgather(TREE["a"], tiled=True),
                                  TREE["a"])
    np.testing.assert_array_equal(spmd.distributed.process_allgather(spmd.numpy.arange(3)),
                                  np.arange(3)[None])


def test_one_process_broadcast_sync_assert():
    got = spmd.distributed.broadcast_one_to_all(TREE)
    np.testing.assert_array_equal(got["a"], TREE["a"])
    spmd.distributed.sync_global_devices("alone")
    spmd.distributed.assert_equal(TREE)
    with pytest.raises(ValueError, match="exactly one source process, but 0 processes"):
        spmd.distributed.broadcast_one_to_all(TREE, is_source=False)
    with pytest.raises(ValueError, match="tiled=True.*needs at least one dimension"):
        spmd.distributed.process_allgather(1.0, tiled=True)


@pytest.mark.parametrize("value", [
    np.float32(1.5), np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2],
    np.array([1, -2], np.int8), np.arange(3, dtype=np.uint16), np.array([True, False]),
    np.array([1 + 2j], np.complex64), np.array([1.5, -2.25], ml_dtypes.bfloat16),
    np.zeros((0, 3), np.float32), np.arange(4, dtype=">i4"),
], ids=lambda v: f"{v.dtype.name}{list(v.shape)}")
def test_wire_format_round_trip(value):
    header, (back,) = host_collectives._decode(host_collectives._encode({"kind": "k"}, [value]))
    assert header == {"kind": "k"}
    assert back.shape == value.shape and back.dtype == value.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back, value)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("num_processes", [3])
def test_host_collectives_across_processes(num_processes):
    for i, p in enumerate(run_job("host_collectives_job.py", num_processes)):
        assert p.code == 0, f"process {i}:\n{p.stderr}"
        assert "all host collective checks passed" in p.stdout
