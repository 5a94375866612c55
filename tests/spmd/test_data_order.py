"""Which rows a ShardedLoader hands to which process and device, and in what order: every
example once per epoch across simulated processes (process_index=i of process_count=P),
the layout of pmap's global device axis, determinism from the seed, and exact resumption."""
import numpy as np
import pytest

from spmd.data import ShardedLoader
from spmd.transforms import backend

# (rows, global batch, processes, local devices, last batch)
LAYOUTS = [
    (64, 8, 1, 8, "drop"),
    (100, 16, 2, 4, "drop"),
    (100, 16, 2, 4, "pad"),
    (90, 12, 3, 2, "pad"),
    (37, 8, 4, 1, "pad"),
]
IDS = [f"n{n}-g{g}-p{p}-l{l}-{lb}" for n, g, p, l, lb in LAYOUTS]


def _data(n):
    ids = np.arange(n)
    return {"id": ids, "x": np.stack([ids * 10.0, ids * 10.0 + 1], axis=1)}


def _loaders(n, g, p, l, last_batch, **kw):
    devices = backend.local_devices()[:l]
    return [ShardedLoader(_data(n), g, process_index=i, process_count=p, devices=devices,
                          to_device=False, last_batch=last_batch, **kw) for i in range(p)]


def _global_batches(loaders, epochs=1):
    """Per epoch, the list of global batches: (ids, valid) concatenated over processes in
    process order, then devices, then rows (pmap's global device axis)."""
    out = []
    for _ in range(epochs):
        per_process = [list(ld) for ld in loaders]
        epoch = []
        for parts in zip(*per_process):
            ids = np.concatenate([b["id"].reshape(-1) for b in parts])
            valid = (np.concatenate([b["mask"].reshape(-1) for b in parts]) if "mask" in parts[0]
                     else np.ones(len(ids), bool))
            for b in parts:  # the other array's rows travel with the same examples
                np.testing.assert_array_equal(b["x"][..., 0], b["id"] * 10.0)
            epoch.append((ids, valid))
        out.append(epoch)
    return out


@pytest.mark.parametrize("n,g,p,l,last_batch", LAYOUTS, ids=IDS)
def test_every_example_once_per_epoch_across_processes(n, g, p, l, last_batch):
    loaders = _loaders(n, g, p, l, last_batch)
    for ld in loaders:
        batch = next(iter(ld))
        assert batch["id"].shape == (l, g // (p * l)) and batch["x"].shape == (l, g // (p * l), 2)
        ld.load_state_dict({**ld.state_dict(), "step": 0})
    epochs = _global_batches(loaders, epochs=2)
    for epoch in epochs:
        seen = np.concatenate([ids[valid] for ids, valid in epoch])
        assert len(seen) == len(set(seen.tolist())), "an example was seen twice in one epoch"
        expected = n if last_batch == "pad" else n - n % g
        assert len(seen) == expected and set(seen.tolist()) <= set(range(n))
        assert all(len(ids) == g for ids, _ in epoch)
        if last_batch == "pad":
            assert all(valid.all() for _, valid in epoch[:-1])
            assert epoch[-1][1].sum() == n - (len(epoch) - 1) * g
    first, second = (np.concatenate([ids for ids, _ in e]) for e in epochs)
    assert not np.array_equal(first, second), "two epochs had the same order"


@pytest.mark.parametrize("n,g,p,l,last_batch", LAYOUTS[1:3], ids=IDS[1:3])
def test_unshuffled_layout_is_pmaps_global_device_axis(n, g, p, l, last_batch):
    """Without shuffling, global batch b is rows b*g .. b*g+g-1, spread over process 0's
    devices, then process 1's: process i, device d holds global positions (i*l + d)*per_dev..."""
    (epoch,) = _global_batches(_loaders(n, g, p, l, last_batch, shuffle=False))
    for b, (ids, valid) in enumerate(epoch):
        expected = np.arange(b * g, (b + 1) * g)
        np.testing.assert_array_equal(ids[valid], expected[expected < n])


def test_same_seed_same_order_other_seed_other_order():
    def order(seed):
        (epoch,) = _global_batches(_loaders(100, 16, 2, 4, "drop", seed=seed))
        return np.concatenate([ids for ids, _ in epoch])
    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))


def _stream(loader, count):
    """The next `count` batches, across epoch boundaries, as id arrays."""
    out = []
    while len(out) < count:
        for batch in loader:
            out.append(np.asarray(batch["id"]).reshape(-1))
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("prefetch", [0, 3])
@pytest.mark.parametrize("stop_after", [2, 6, 9])  # mid-epoch, at an epoch's end, next epoch
def test_resume_from_state_dict_continues_the_same_order(prefetch, stop_after):
    make = lambda: _loaders(100, 16, 1, 4, "pad", prefetch=prefetch, seed=5)[0]  # 7 per epoch
    uninterrupted = _stream(make(), 12)
    first = make()
    head = _stream(first, stop_after)
    state = first.state_dict()
    first.close()
    resumed = make()
    resumed.load_state_dict(state)
    tail = _stream(resumed, 12 - stop_after)
    for a, b in zip(uninterrupted, head + tail):
        np.testing.assert_array_equal(a, b)


def test_resume_on_another_process_count():
    """A state saved by one process of one layout resumes on 2 processes of 2 devices: the
    order is a function of the global batch, not of who reads it."""
    single = _loaders(100, 16, 1, 4, "drop", seed=1)[0]
    reference = _global_batches([single], epochs=1)[0]
    first = _loaders(100, 16, 1, 4, "drop", seed=1)[0]
    _stream(first, 2)
    pair = _loaders(100, 16, 2, 2, "drop", seed=1)
    for ld in pair:
        ld.load_state_dict(first.state_dict())
    (rest,) = _global_batches(pair)
    assert len(rest) == len(reference) - 2
    for (a, _), (b, _) in zip(reference[2:], rest):
        np.testing.assert_array_equal(a, b)


def test_breaking_out_and_iterating_again_continues_after_the_last_batch_taken():
    """Prefetched batches that were never handed out are not skipped."""
    uninterrupted = _stream(_loaders(100, 16, 1, 4, "drop", prefetch=4)[0], 6)
    loader = _loaders(100, 16, 1, 4, "drop", prefetch=4)[0]
    got = []
    for batch in loader:
        got.append(batch["id"].reshape(-1))
        if len(got) == 2:
            break
    got += [b["id"].reshape(-1) for b in loader]
    for a, b in zip(uninterrupted, got):
        np.testing.assert_array_equal(a, b)
    assert loader.state_dict()["epoch"] == 1 and loader.state_dict()["step"] == 0
