"""Checkpoints that cannot lie or run code: a flipped byte or a truncated file is an error naming
the file (and the array), restoring a directory falls back to its newest intact checkpoint, a
crafted file runs nothing, a save killed mid-write leaves nothing behind for long, and steps
only move forward."""
import collections
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from typing import NamedTuple

import numpy as np
import pytest

import spmd
from spmd import checkpoint_format, checkpoints, optim
from spmd.checkpoints import DamagedCheckpoint, DamagedCheckpointWarning

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tree(seed=0):
    rng = np.random.default_rng(seed)
    params = {"w": rng.standard_normal((16, 8)).astype(np.float32),
              "b": rng.standard_normal(8).astype(spmd.numpy.bfloat16)}
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))
    return {"params": params, "opt": opt.init(params), "step": seed, "lr": 0.1, "none": None,
            "names": ("a", b"\x00b"), "ordered": collections.OrderedDict(z=1, a=2)}


def _same(a, b):
    la, ta = spmd.tree_util.tree_flatten(a)
    lb, tb = spmd.tree_util.tree_flatten(b)
    scalar = (int, float, complex, str, bytes)
    return ta == tb and all((type(x) is type(y) if isinstance(y, scalar) else
                             isinstance(x, np.ndarray))
                            and np.asarray(x).dtype == np.asarray(y).dtype
                            and np.asarray(x).tobytes() == np.asarray(y).tobytes()
                            for x, y in zip(la, lb))


def _header(path):
    """(header dict, offset where the arrays begin) of a checkpoint file."""
    blob = open(path, "rb").read()
    _, size, _ = struct.unpack_from("<8sQI", blob)
    return json.loads(blob[20:20 + size]), 20 + size


def _rewrite_header(path, edit):
    """Replace the JSON header by edit(header), with a valid header checksum: a crafted file."""
    blob = open(path, "rb").read()
    header, start = _header(path)
    edit(header)
    new = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<8sQI", b"SPMDCKPT", len(new), zlib.crc32(new)) + new
                           + blob[start:])


def test_round_trip_keeps_the_structure_types_and_bits(tmp_path):
    tree = _tree()
    back = checkpoints.restore_checkpoint(checkpoints.save_checkpoint(tmp_path / "c", tree),
                                          target=tree)
    assert _same(back, tree)
    assert type(back["opt"][1][0]) is optim.ScaleByAdamState
    assert type(back["ordered"]) is collections.OrderedDict and list(back["ordered"]) == ["z", "a"]
    assert back["names"] == ("a", b"\x00b") and back["lr"] == 0.1 and back["step"] == 0


def test_restore_never_unpickles(tmp_path, monkeypatch):
    path = checkpoints.save_checkpoint(tmp_path / "c", _tree())

    def refuse(*args, **kwargs):
        raise AssertionError("restore used pickle")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    assert _same(checkpoints.restore_checkpoint(path), _tree())


def test_a_flipped_byte_names_the_file_and_the_array(tmp_path):
    tree = _tree()
    path = checkpoints.save_checkpoint(tmp_path / "c", tree)
    blob = bytearray(open(path, "rb").read())
    at = bytes(blob).find(tree["params"]["w"].tobytes()) + 100
    blob[at] ^= 0x01
    open(path, "wb").write(blob)
    with pytest.raises(DamagedCheckpoint, match=rf"^checkpoint '{path}' is damaged .*: array "
                                                r"\['params'\]\['w'\] \(array \d+ of \d+, "
                                                r"float32\[16, 8\]\) fails its checksum"):
        checkpoints.restore_checkpoint(path)
    blob[at] ^= 0x01
    blob[30] ^= 0x20  # inside the JSON description
    open(path, "wb").write(blob)
    with pytest.raises(DamagedCheckpoint, match=rf"^checkpoint '{path}' is damaged .*: its "
                                                r"description of the tree .* fails its checksum"):
        checkpoints.restore_checkpoint(path)


@pytest.mark.parametrize("keep", [0, 5, 19, 21, -1])  # bytes kept (-1: all but the last one)
def test_a_truncated_file_names_its_path(tmp_path, keep):
    path = checkpoints.save_checkpoint(tmp_path / "c", _tree())
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:keep])
    with pytest.raises(DamagedCheckpoint, match=rf"^checkpoint '{path}' is damaged .*truncated"):
        checkpoints.restore_checkpoint(path)


def test_restoring_a_directory_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    for step in (1, 2, 3):
        checkpoints.save_checkpoint(tmp_path, _tree(step), step=step)
    newest = tmp_path / "checkpoint_3"
    newest.write_bytes(newest.read_bytes()[:-10])
    with pytest.warns(DamagedCheckpointWarning, match=rf"^checkpoint '{newest}' is damaged .*"
                                                      r"truncated.*Restoring the newest intact "
                                                      rf"checkpoint of '{tmp_path}'"):
        back = checkpoints.restore_checkpoint(tmp_path)
    assert _same(back, _tree(2))
    # training goes on from step 2: the damaged step 3 is no newer checkpoint that refuses a save
    checkpoints.save_checkpoint(tmp_path, _tree(4), step=2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_1", "checkpoint_2"]
    assert _same(checkpoints.restore_checkpoint(tmp_path), _tree(4))
    for step in (1, 3):
        checkpoints.save_checkpoint(tmp_path, _tree(step), step=step, overwrite=True)
    for step in (1, 2, 3):
        (tmp_path / f"checkpoint_{step}").write_bytes(b"")
    with pytest.warns(DamagedCheckpointWarning), \
            pytest.raises(DamagedCheckpoint, match=rf"every checkpoint in directory '{tmp_path}'"):
        checkpoints.restore_checkpoint(tmp_path)


class _Marker:
    """Unpickling it would create a file: the proof that a pickle ran code."""
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_pickle_under_a_checkpoints_name_runs_nothing(tmp_path):
    marker = str(tmp_path / "code-ran")
    crafted = tmp_path / "checkpoint_9"
    crafted.write_bytes(pickle.dumps({"tree": _Marker(marker)}))
    with pytest.raises(DamagedCheckpoint, match=rf"checkpoint '{crafted}' is damaged or not an "
                                                r"spmd checkpoint: it is a pickle .* which spmd "
                                                r"does not load: unpickling can run code"):
        checkpoints.restore_checkpoint(crafted)
    with pytest.warns(DamagedCheckpointWarning), pytest.raises(DamagedCheckpoint):
        checkpoints.restore_checkpoint(tmp_path)
    (tmp_path / "text").write_bytes(b"hello")
    with pytest.raises(DamagedCheckpoint, match=r"it does not begin with b'SPMDCKPT' .* but with "
                                                r"b'hello'"):
        checkpoints.restore_checkpoint(tmp_path / "text")
    assert not os.path.exists(marker)


def _set_adam_type(name):
    def edit(header):
        state = header["tree"]["dict"]
        opt = next(v for k, v in state if k == {"str": "opt"})
        opt["tuple"][1]["tuple"][0]["namedtuple"] = name
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set_adam_type("posix.system"), r"it names the type 'posix.system', which is not a "
                                     r"registered namedtuple: restore builds only the types "
                                     r"registered with spmd.checkpoints.register_namedtuple"),
    (lambda h: h["arrays"][0].update(dtype="object"), r"has dtype 'object', which is not one a "
                                                      r"checkpoint holds"),
    (lambda h: h["tree"].update({"eval": [1]}), r"its description of the tree is malformed"),
    (lambda h: h.update(tree={"exec": "print(1)"}), r"an unknown node 'exec'"),
])
def test_a_crafted_description_is_refused(tmp_path, edit, message):
    path = checkpoints.save_checkpoint(tmp_path / "c", _tree())
    _rewrite_header(path, edit)
    with pytest.raises(DamagedCheckpoint, match=rf"^checkpoint '{path}' is damaged .*{message}"):
        checkpoints.restore_checkpoint(path)


class Point(NamedTuple):
    x: object
    y: object


def test_a_users_namedtuple_must_be_registered(tmp_path):
    with pytest.raises(TypeError, match=r"cannot checkpoint \['p'\]: a Point, a namedtuple type "
                                        r"that is not registered; call spmd.checkpoints."
                                        r"register_namedtuple\(Point\)"):
        checkpoints.save_checkpoint(tmp_path / "c", {"p": Point(np.ones(2), 3)})
    assert not os.listdir(tmp_path)
    checkpoints.register_namedtuple(Point)
    try:
        tree = {"p": Point(np.arange(3.0), 3)}
        back = checkpoints.restore_checkpoint(checkpoints.save_checkpoint(tmp_path / "c", tree))
        assert type(back["p"]) is Point and _same(back, tree)
    finally:
        del checkpoint_format._namedtuples[checkpoint_format._type_name(Point)]
    with pytest.raises(DamagedCheckpoint, match="not a registered namedtuple"):
        checkpoints.restore_checkpoint(tmp_path / "c")
    with pytest.raises(TypeError, match="cannot checkpoint a leaf of type set"):
        checkpoints.save_checkpoint(tmp_path / "d", {"k": {1, 2}})


_KILLED_MID_SAVE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from spmd import checkpoints
    real = checkpoints._dump
    def dump_then_hang(payload, f):
        real(payload, f)
        f.flush()
        print("writing", flush=True)
        time.sleep(120)
    checkpoints._dump = dump_then_hang
    checkpoints.save_checkpoint(sys.argv[1], {"w": np.ones(1000)}, step=int(sys.argv[2]))
""")


@pytest.mark.timeout(60)
def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    checkpoints.save_checkpoint(tmp_path, {"w": np.zeros(3)}, step=1)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_MID_SAVE, str(tmp_path), "2"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline() == "writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".checkpoint_2.")
    other = tmp_path / ".checkpoint_2.notmine"  # not a name a save gives: left alone
    other.write_bytes(b"")
    assert checkpoints.restore_checkpoint(tmp_path)["w"].tolist() == [0, 0, 0]
    checkpoints.save_checkpoint(tmp_path, {"w": np.ones(3)}, step=3)
    assert sorted(os.listdir(tmp_path)) == [other.name, "checkpoint_1", "checkpoint_3"]


def test_steps_move_forward_unless_overwrite(tmp_path):
    for step in (10, 20):
        checkpoints.save_checkpoint(tmp_path, {"s": np.int32(step)}, step=step, keep=2)
    with pytest.raises(ValueError, match=rf"step 5 is older than the newest checkpoint of "
                                         rf"{tmp_path}, {tmp_path}/checkpoint_20; .* Pass "
                                         r"overwrite=True"):
        checkpoints.save_checkpoint(tmp_path, {"s": np.int32(5)}, step=5, keep=2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_10", "checkpoint_20"]
    checkpoints.save_checkpoint(tmp_path, {"s": np.int32(20)}, step=20, keep=2)  # the same step
    path = checkpoints.save_checkpoint(tmp_path, {"s": np.int32(15)}, step=15, keep=2,
                                       overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_10", "checkpoint_15"]
    assert checkpoints.latest_checkpoint(tmp_path) == path
    assert int(checkpoints.restore_checkpoint(tmp_path)["s"]) == 15
