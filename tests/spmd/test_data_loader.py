"""ShardedLoader's sources (arrays, memory-mapped .npy, custom objects), its batches on
devices, its background prefetching, and its errors."""
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import spmd
from spmd.data import ShardedLoader
from spmd.transforms import backend

DEVICES = backend.local_devices()[:4]


class RowsTimesTwo:
    """A custom dataset: any object with __len__ and __getitem__(indices)."""

    def __init__(self, n, delay=0.0, fail_at_read=None):
        self.n, self.delay, self.fail_at_read, self.reads = n, delay, fail_at_read, 0

    def __len__(self):
        return self.n

    def __getitem__(self, indices):
        self.reads += 1
        if self.reads == self.fail_at_read:
            raise OSError("disk on fire")
        time.sleep(self.delay)
        return {"double": np.asarray(indices) * 2, "ids": np.asarray(indices)}


def _loader(data, g=8, **kw):
    kw.setdefault("devices", DEVICES)
    kw.setdefault("to_device", False)
    return ShardedLoader(data, g, process_index=0, process_count=1, **kw)


def _ids(batch):
    return np.asarray(batch).reshape(-1)


SOURCES = [  # (name, build data from (tmp_path, rows), ids of a batch)
    ("dict", lambda tmp, x: {"x": x, "y": x[:, 0] + 0.5},
     lambda b: (_ids(b["x"][..., 0]), _ids(b["y"]) - 0.5)),
    ("tuple", lambda tmp, x: (x, x[:, 1]), lambda b: (_ids(b[0][..., 0]), _ids(b[1]) - 1)),
    ("array", lambda tmp, x: x, lambda b: (_ids(b[..., 0]),)),
    ("npy", lambda tmp, x: {"x": _save(tmp / "x.npy", x), "y": str(_save(tmp / "y.npy", x[:, 1]))},
     lambda b: (_ids(b["x"][..., 0]), _ids(b["y"]) - 1)),
    ("custom", lambda tmp, x: RowsTimesTwo(len(x)),
     lambda b: (_ids(b["ids"]), _ids(b["double"]) // 2)),
    ("nested", lambda tmp, x: {"inputs": (x, {"z": x[:, 1]}), "label": x[:, 0]},
     lambda b: (_ids(b["inputs"][0][..., 0]), _ids(b["inputs"][1]["z"]) - 1, _ids(b["label"]))),
]


def _save(path, x):
    np.save(path, x)
    return path


@pytest.mark.parametrize("name,build,ids_of", SOURCES, ids=[s[0] for s in SOURCES])
def test_sources_give_the_same_rows(tmp_path, name, build, ids_of):
    rows = np.stack([np.arange(40.0), np.arange(40.0) + 1], axis=1)
    loader = _loader(build(tmp_path, rows), shuffle=True, seed=2)
    reference = _loader({"x": rows}, shuffle=True, seed=2)
    for batch, ref in zip(loader, reference):
        expected = _ids(ref["x"][..., 0])
        for ids in ids_of(batch):
            np.testing.assert_array_equal(ids, expected)


def test_npy_sources_are_memory_mapped(tmp_path):
    loader = _loader({"x": _save(tmp_path / "x.npy", np.arange(16.0))})
    assert isinstance(loader.source.leaves[0], np.memmap)


@pytest.mark.parametrize("name,data,mask_of", [
    ("dict", {"x": np.arange(20)}, lambda b: (b["x"], b["mask"])),
    ("tuple", (np.arange(20),), lambda b: (b[0], b[1])),
    ("array", np.arange(20), lambda b: (b[0], b[1])),
])
def test_pad_adds_a_mask_in_the_batch_structure(name, data, mask_of):
    batches = list(_loader(data, g=8, last_batch="pad", shuffle=False))
    assert len(batches) == 3
    rows, mask = mask_of(batches[-1])
    assert mask.shape == (4, 2) and mask.dtype == np.bool_
    np.testing.assert_array_equal(_ids(rows)[_ids(mask)], [16, 17, 18, 19])
    assert _ids(mask).tolist() == [True] * 4 + [False] * 4
    assert all(_ids(mask_of(b)[1]).all() for b in batches[:-1])


def test_drop_skips_the_short_batch():
    batches = list(_loader({"x": np.arange(20)}, g=8, shuffle=False))
    assert len(batches) == 2 and all("mask" not in b for b in batches)
    np.testing.assert_array_equal(np.concatenate([_ids(b["x"]) for b in batches]), np.arange(16))


def test_batches_on_devices_are_arrays_stacked_over_the_local_devices():
    data = {"x": np.random.default_rng(0).standard_normal((32, 3)),  # float64: narrowed
            "y": np.arange(32, dtype=np.int32), "h": np.ones((32, 2), spmd.numpy.bfloat16)}
    on_host = list(_loader(data, g=16, seed=1))
    on_device = list(_loader(data, g=16, seed=1, to_device=True))
    for host, dev in zip(on_host, on_device):
        for key in data:
            arr = dev[key]
            assert isinstance(arr, spmd.Array) and arr.is_sharded
            assert arr.sharding_devices == DEVICES
            assert arr.shape == (4, 4) + data[key].shape[1:]
            expected = host[key].astype(np.float32) if key == "x" else host[key]
            assert np.asarray(arr).dtype == expected.dtype
            np.testing.assert_array_equal(np.asarray(arr), expected)
    # each device holds its own rows
    for d in range(len(DEVICES)):
        np.testing.assert_array_equal(np.asarray(on_device[0]["y"].shard(d)), on_host[0]["y"][d])


def test_batches_feed_a_jitted_function():
    data = {"x": np.arange(32.0).reshape(16, 2)}
    f = spmd.jit(lambda b: spmd.numpy.multiply(b["x"], 2.0))
    for host, dev in zip(_loader(data, seed=4), _loader(data, seed=4, to_device=True)):
        np.testing.assert_array_equal(np.asarray(f(dev)), 2 * host["x"].astype(np.float32))


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "spmd-data-prefetch" and t.is_alive()]


def test_prefetch_overlaps_reading_with_the_consumer():
    """A source that takes 40 ms a batch and a consumer that takes 40 ms a batch: prefetching
    runs them side by side (about 8 x 40 ms), not one after the other (8 x 80 ms)."""
    def run(prefetch):
        loader = _loader(RowsTimesTwo(64, delay=0.04), prefetch=prefetch)
        start = time.perf_counter()
        for _ in loader:
            time.sleep(0.04)
        return time.perf_counter() - start
    serial, overlapped = run(0), run(2)
    assert serial > 0.6
    assert overlapped < 0.8 * serial, (serial, overlapped)


def test_close_stops_the_prefetch_thread():
    before = len(_prefetch_threads())
    loader = _loader({"x": np.arange(64)}, prefetch=2)
    it = iter(loader)
    next(it)
    assert len(_prefetch_threads()) == before + 1
    loader.close()
    assert len(_prefetch_threads()) == before
    with loader:  # a context manager closes too
        next(iter(loader))
    assert len(_prefetch_threads()) == before


def test_an_error_in_the_source_reaches_the_consumer():
    loader = _loader(RowsTimesTwo(64, fail_at_read=3), prefetch=2)
    got = []
    with pytest.raises(OSError, match="disk on fire"):
        for batch in loader:
            got.append(batch)
    assert len(got) == 2
    assert loader.state_dict()["step"] == 2


def test_interpreter_exits_with_a_loader_left_mid_epoch():
    script = textwrap.dedent("""
        import numpy as np
        from spmd.data import ShardedLoader
        loader = ShardedLoader({"x": np.zeros((4096, 64), np.float32)}, 8, prefetch=4)
        it = iter(loader)
        next(it)
        print("took one batch")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "took one batch" in done.stdout


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"global_batch_size 12 is not divisible by the number of "
                                         r"devices: 2 process\(es\) x 4 local device\(s\) = 8"):
        ShardedLoader({"x": np.arange(64)}, 12, devices=DEVICES, process_index=0,
                      process_count=2)
    with pytest.raises(ValueError, match="has 6 rows, fewer than one global batch of 8"):
        _loader({"x": np.arange(6)})
    with pytest.raises(ValueError, match=r"different lengths \(\['x'\] has 10, \['y'\] has 9"):
        _loader({"x": np.arange(10), "y": np.arange(9)})
    with pytest.raises(ValueError, match="the dataset is empty"):
        _loader({"x": np.zeros((0, 3))}, last_batch="pad")
    with pytest.raises(ValueError, match="last_batch must be 'drop' or 'pad'"):
        _loader({"x": np.arange(16)}, last_batch="keep")
    with pytest.raises(ValueError, match="already has a 'mask' entry; rename it"):
        _loader({"x": np.arange(16), "mask": np.arange(16)}, last_batch="pad")
    with pytest.raises(ValueError, match="process_index 2 is out of range for process_count 2"):
        ShardedLoader({"x": np.arange(64)}, 8, devices=DEVICES, process_index=2, process_count=2)
    with pytest.raises(ValueError, match="is not a .npy file"):
        _loader({"x": str(tmp_path / "x.csv")})
    with pytest.raises(TypeError, match="data source \\['x'\\] is a int; give a NumPy array"):
        _loader({"x": 3})
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        _loader({"x": np.arange(16)}, seed=-1)
    for bad in (4.9, "4", True):
        with pytest.raises(TypeError, match=f"global_batch_size must be an int, got {bad!r}"):
            ShardedLoader({"x": np.arange(16)}, bad, devices=DEVICES)
    with pytest.raises(TypeError, match="prefetch must be an int, got 2.0 \\(float\\)"):
        _loader({"x": np.arange(16)}, prefetch=2.0)

    class WrongRows(RowsTimesTwo):
        def __getitem__(self, indices):
            return np.zeros(3)
    with pytest.raises(ValueError, match="with 8 indices returned an array of shape \\(3,\\)"):
        next(iter(_loader(WrongRows(16))))


def test_load_state_dict_errors():
    loader = _loader({"x": np.arange(64)}, seed=1)
    state = loader.state_dict()
    with pytest.raises(ValueError, match="saved with global_batch_size=16 but this loader has "
                                         "global_batch_size=8"):
        loader.load_state_dict({**state, "global_batch_size": 16})
    with pytest.raises(ValueError, match="saved with seed=2 but this loader has seed=1"):
        loader.load_state_dict({**state, "seed": 2})
    with pytest.raises(ValueError, match="missing \\['step'\\]"):
        loader.load_state_dict({k: v for k, v in state.items() if k != "step"})
    with pytest.raises(ValueError, match="step=8 is out of range \\(an epoch has 8 batches\\)"):
        loader.load_state_dict({**state, "step": 8})
    loader.load_state_dict({**state, "epoch": np.asarray(3), "step": np.int64(2)})
    assert loader.state_dict()["epoch"] == 3 and loader.state_dict()["step"] == 2
