"""spmd.checkpoint: bit-exact round trips, atomic replacement, step files, process 0 writing,
device-count independence; and training interrupted, checkpointed and resumed, which must end
with the same parameters as training straight through."""
import logging
import os
import socket

import numpy as np
import pytest

import spmd
from spmd import checkpoints as checkpoint, optim
from spmd.data import ShardedLoader, replicate, topology, unreplicate
from spmd.data.placement import put_stacked
from spmd.transforms import backend, lax, tree_util

DEVICES = backend.local_devices()


def _special_values(dtype):
    """Values whose bits a lossy path would change: NaN, -0.0, inf, tiny, extremes."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return np.array([True, False, True])
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.array([info.min, -1 if info.min else 0, info.max], dtype)
    values = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-3, 3.14159], np.float32)
    if np.issubdtype(dtype, np.complexfloating):
        out = np.empty(len(values), dtype)
        out.real, out.imag = values, values[::-1]
        return out
    return values.astype(dtype)


DTYPES = [np.float32, np.float64, spmd.numpy.bfloat16, np.float16, np.complex64, np.int8,
          np.int32, np.uint8, np.bool_]


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=[np.dtype(d).name for d in DTYPES])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    host = _special_values(dtype).reshape(3, -1)
    tree = {"host": host, "scalar": host.reshape(-1)[1:2].reshape(()),
            "nested": [host.T, (host[0],)], "none": None}
    if np.dtype(dtype) in (np.dtype(np.float32), spmd.numpy.bfloat16, np.dtype(np.int32)):
        tree["device"] = spmd.numpy.asarray(host)
        tree["sharded"] = put_stacked(np.stack([host] * 4), DEVICES[:4])
    path = checkpoint.save_checkpoint(tmp_path / "ckpt", tree)
    restored = checkpoint.restore_checkpoint(path)
    assert tree_util.tree_structure(restored) == tree_util.tree_structure(tree)
    for saved, back in zip(tree_util.tree_leaves(tree), tree_util.tree_leaves(restored)):
        assert isinstance(back, np.ndarray)
        assert _same_bits(back, np.asarray(saved)), (back, saved)


def test_round_trip_of_optimizer_and_loader_state(tmp_path):
    params = {"w": np.ones((2, 3), np.float32), "b": np.zeros(3, np.float32)}
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(optim.exponential_decay(
        0.1, 2, 0.5), weight_decay=0.1))
    state = opt.init(params)
    _, state = spmd.jit(opt.update)(params, state, params)
    loader = ShardedLoader({"x": np.arange(64)}, 8, to_device=False, seed=9)
    next(iter(loader))
    tree = {"params": params, "opt": state, "loader": loader.state_dict()}
    checkpoint.save_checkpoint(tmp_path / "c", tree)
    back = checkpoint.restore_checkpoint(tmp_path / "c", target=tree)
    assert back["loader"] == loader.state_dict()
    assert type(back["opt"][1][0]) is optim.ScaleByAdamState
    for a, b in zip(tree_util.tree_leaves(tree), tree_util.tree_leaves(back)):
        assert _same_bits(np.asarray(a), np.asarray(b))


class _Crash(RuntimeError):
    pass


def test_a_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "state"
    checkpoint.save_checkpoint(path, {"w": np.arange(5.0)})
    real_dump = checkpoint._dump

    def dump_half_then_crash(payload, f):
        real_dump(payload, f)
        f.truncate(f.tell() // 2)  # half the bytes are on disk, then the process "dies"
        raise _Crash("killed mid-write")
    monkeypatch.setattr(checkpoint, "_dump", dump_half_then_crash)
    with pytest.raises(_Crash):
        checkpoint.save_checkpoint(path, {"w": np.arange(5.0) + 100})
    with pytest.raises(_Crash):  # a first checkpoint that fails leaves no file at all
        checkpoint.save_checkpoint(tmp_path / "never", {"w": np.arange(5.0)})
    monkeypatch.undo()
    np.testing.assert_array_equal(checkpoint.restore_checkpoint(path)["w"], np.arange(5.0))
    assert sorted(os.listdir(tmp_path)) == ["state"]  # no temporary file left behind


def test_step_files_latest_and_keep(tmp_path):
    assert checkpoint.latest_checkpoint(tmp_path / "missing") is None
    for step in (1, 5, 10):
        written = checkpoint.save_checkpoint(tmp_path, {"step": np.int32(step)}, step=step, keep=2)
        assert written == os.path.join(tmp_path, f"checkpoint_{step}")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_10", "checkpoint_5"]
    assert checkpoint.latest_checkpoint(tmp_path) == os.path.join(tmp_path, "checkpoint_10")
    assert checkpoint.restore_checkpoint(tmp_path)["step"] == 10


def test_only_process_zero_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(topology, "process_index", lambda: 1)
    path = checkpoint.save_checkpoint(tmp_path / "c", {"w": np.ones(2)})
    assert path == os.path.join(tmp_path, "c") and not os.listdir(tmp_path)


def test_a_save_says_where_it_wrote(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="spmd.checkpoints"):
        path = checkpoint.save_checkpoint(tmp_path, {"w": np.ones(2)}, step=3)
    assert caplog.messages == [f"process 0 wrote checkpoint {path} on host "
                               f"{socket.gethostname()} (process 0's disk: at restore process 0 "
                               "reads it and sends it to the others)"]
    assert checkpoint.location("rel", shared=True) == (
        f"{os.path.abspath('rel')} on host {socket.gethostname()} (a shared directory: every "
        "process reads it itself)")


def test_process_zero_reads_and_sends_the_file_in_pieces(tmp_path, monkeypatch):
    """The path of a job of several processes, run in one: process 0 reads, then the bytes go
    through broadcast_one_to_all (which, alone, hands back what it was given) in pieces."""
    tree = {"w": np.random.default_rng(0).standard_normal((5, 7)), "s": "text", "n": None}
    checkpoint.save_checkpoint(tmp_path, tree, step=1)
    sent = []
    real = checkpoint.distributed.broadcast_one_to_all
    monkeypatch.setattr(checkpoint.distributed, "broadcast_one_to_all",
                        lambda x: sent.append(x) or real(x))
    monkeypatch.setattr(topology, "process_count", lambda: 2)
    monkeypatch.setattr(checkpoint, "_CHUNK_BYTES", 100)
    back = checkpoint.restore_checkpoint(tmp_path, target=tree)
    size = os.path.getsize(tmp_path / "checkpoint_1")
    # sent: process 0's error (none), the sizes, the path, then the file in pieces of 100 bytes
    assert int(sent[0]) == 0
    assert [len(x) for x in sent[3:]] == [100] * (size // 100) + [size % 100]
    assert _same_bits(back["w"], tree["w"]) and back["s"] == "text" and back["n"] is None
    empty = _empty(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"^process 0: no checkpoint in directory "
                                                f"'{empty}' on host {socket.gethostname()} "
                                                f"\\(looked for"):
        checkpoint.restore_checkpoint(empty)


def test_replicated_parameters_resume_on_another_device_count(tmp_path):
    """Saved from 4 replicas, restored onto 2: a checkpoint holds one replica."""
    params = {"w": np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32),
              "h": np.ones(3, spmd.numpy.bfloat16)}
    on_four = replicate(params, DEVICES[:4])
    assert on_four["w"].shape == (4, 3, 2) and on_four["w"].sharding_devices == DEVICES[:4]
    checkpoint.save_checkpoint(tmp_path / "c", unreplicate(on_four))
    on_two = replicate(checkpoint.restore_checkpoint(tmp_path / "c", target=params), DEVICES[:2])
    for key in params:
        np.testing.assert_array_equal(np.asarray(on_two[key]), np.stack([params[key]] * 2))
        assert _same_bits(unreplicate(on_two)[key], params[key])


def test_errors(tmp_path):
    params = {"w": np.ones((3, 2), np.float32)}
    checkpoint.save_checkpoint(tmp_path / "replicated", {"w": np.ones((4, 3, 2), np.float32)})
    with pytest.raises(ValueError, match=r"leaf 0 was saved as float32\[4, 3, 2\] but the target "
                                         r"expects float32\[3, 2\] \(they differ by a leading "
                                         r"device axis"):
        checkpoint.restore_checkpoint(tmp_path / "replicated", target=params)
    with pytest.raises(ValueError, match="holds a tree of structure .* but the target has"):
        checkpoint.restore_checkpoint(tmp_path / "replicated", target={"v": params["w"]})
    with pytest.raises(FileNotFoundError, match="no checkpoint in directory"):
        checkpoint.restore_checkpoint(_empty(tmp_path))
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        checkpoint.restore_checkpoint(tmp_path / "nothing")
    with pytest.raises(TypeError, match="cannot checkpoint a leaf of type object"):
        checkpoint.save_checkpoint(tmp_path / "bad", {"w": object()})
    with pytest.raises(ValueError, match="keep=N needs step="):
        checkpoint.save_checkpoint(tmp_path / "bad", params, keep=2)


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


# ------------------------------------------------------------------ interrupted training
ROWS, FEATURES, GLOBAL_BATCH = 40, 3, 16  # 3 batches an epoch, the last one padded


def _dataset():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((ROWS, FEATURES)).astype(np.float32)
    y = np.tanh(x @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    return {"x": x, "y": y}


def _init_params():
    rng = np.random.default_rng(1)
    return {"w1": rng.standard_normal((FEATURES, 4)).astype(np.float32) * 0.5,
            "w2": rng.standard_normal((4, 1)).astype(np.float32) * 0.5}


def _loss(params, batch):
    x = lax.reshape(batch["x"], (GLOBAL_BATCH, FEATURES))
    y = lax.reshape(batch["y"], (GLOBAL_BATCH, 1))
    mask = lax.convert_element_type(lax.reshape(batch["mask"], (GLOBAL_BATCH, 1)), np.float32)
    pred = lax.dot(spmd.numpy.tanh(lax.dot(x, params["w1"])), params["w2"])
    err = spmd.numpy.multiply(mask, spmd.numpy.square(spmd.numpy.subtract(pred, y)))
    return spmd.numpy.divide(lax.reduce_sum(err), lax.reduce_sum(mask))


OPT = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.05))


@spmd.jit
def _train_step(params, opt_state, batch):
    grads = spmd.grad(_loss)(params, batch)
    updates, opt_state = OPT.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state


def _train(loader, params, opt_state, steps):
    done = 0
    while done < steps:
        for batch in loader:
            params, opt_state = _train_step(params, opt_state, batch)
            done += 1
            if done == steps:
                break
    return params, opt_state


def _new_loader():
    return ShardedLoader(_dataset(), GLOBAL_BATCH, seed=3, last_batch="pad", prefetch=2,
                         devices=DEVICES[:2])


@pytest.mark.parametrize("interrupt_at", [2, 4])  # mid-epoch 1, mid-epoch 2
def test_interrupted_and_resumed_training_equals_uninterrupted(tmp_path, interrupt_at):
    total = 7
    params = _init_params()
    straight, _ = _train(_new_loader(), params, OPT.init(params), total)

    loader = _new_loader()
    p, s = _train(loader, params, OPT.init(params), interrupt_at)
    checkpoint.save_checkpoint(tmp_path, {"params": p, "opt": s, "loader": loader.state_dict()},
                               step=interrupt_at)
    loader.close()
    del loader, p, s  # the "crash": nothing survives but the checkpoint

    template = {"params": params, "opt": OPT.init(params), "loader": _new_loader().state_dict()}
    restored = checkpoint.restore_checkpoint(tmp_path, target=template)
    loader = _new_loader()
    loader.load_state_dict(restored["loader"])
    resumed, _ = _train(loader, restored["params"], restored["opt"], total - interrupt_at)
    for key in params:
        assert _same_bits(np.asarray(resumed[key]), np.asarray(straight[key]))
    assert not np.allclose(np.asarray(straight["w1"]), params["w1"])  # it did train
