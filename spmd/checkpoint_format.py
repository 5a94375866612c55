"""The checkpoint file: arrays as raw buffers after a JSON description of the tree, each with
a CRC-32 checksum. Restore parses JSON and copies bytes into NumPy arrays of named dtypes:
it never unpickles, imports or calls anything a file names, so a crafted file cannot run code.

    MAGIC (8 bytes) | header size (uint64, little-endian) | header CRC-32 (uint32, LE)
    | header (JSON, UTF-8) | the arrays' bytes (C order, little-endian), one after another

The header is {"format", "version", "step", "tree", "arrays"}. "arrays" lists per array its
place in the tree (a key path, for messages), dtype name, shape, offset (from the end of the
header), size and CRC-32. The tree is JSON: null is None; {"array": i}; a Python scalar is
{"int": 3}, {"float": "0x1.8p+1"} (hex: exact, NaN and inf included), {"bool": ...},
{"str": ...}, {"bytes": base64}, {"complex": [re, im]}; containers are {"list": [...]},
{"tuple": [...]}, {"dict": [[key, value], ...]}, {"ordered_dict": [...]} (keys are scalars)
and {"namedtuple": name, "fields": [[field, value], ...]}, where `name` must be a type in
this module's registry (spmd.optim's states, and what `register_namedtuple` added): a file
that names anything else is refused.
"""
from __future__ import annotations

import base64
import collections
import json
import struct
import zlib

import ml_dtypes
import numpy as np

from spmd.optim import base as _optim_base, transformations as _optim_transformations

FORMAT = "spmd-checkpoint"
VERSION = 2
MAGIC = b"SPMDCKPT"
_PREFIX = struct.Struct("<8sQI")  # magic, header size, header CRC-32
# Every dtype a checkpoint may hold, by name: a file names one of these or is refused.
_DTYPES = {np.dtype(d).name: np.dtype(d) for d in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128, ml_dtypes.bfloat16,
    ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4, ml_dtypes.uint4)}
_namedtuples: dict[str, type] = {}


class DamagedCheckpoint(ValueError):
    """A file that is not a whole, intact spmd checkpoint (truncated, altered, or another file)."""


class NotACheckpoint(DamagedCheckpoint):
    """A file that does not even begin as an spmd checkpoint."""


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_namedtuple(cls: type) -> type:
    """Let checkpoints hold namedtuples of type `cls` (usable as a class decorator). A checkpoint
    stores the type's name; restore builds only registered types, so register the type in the
    saving and in the restoring program. spmd.optim's states are registered already."""
    if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
        raise TypeError(f"register_namedtuple: {cls!r} is not a namedtuple class")
    _namedtuples[_type_name(cls)] = cls
    return cls


for _module in (_optim_base, _optim_transformations):
    for _value in list(vars(_module).values()):
        if isinstance(_value, type) and issubclass(_value, tuple) and hasattr(_value, "_fields"):
            register_namedtuple(_value)


# ---------------------------------------------------------------- writing
def dump(payload: dict, f) -> None:
    """Write `payload` ({"step", "tree"}, array leaves already NumPy arrays) to binary file `f`."""
    arrays, records = [], []
    tree = _encode(payload["tree"], "", arrays, records)
    offset = 0
    for a, record in zip(arrays, records):
        record.update(offset=offset, nbytes=a.nbytes, crc32=zlib.crc32(_bytes(a)))
        offset += a.nbytes
    header = json.dumps({"format": FORMAT, "version": VERSION, "step": payload["step"],
                         "tree": tree, "arrays": records}, allow_nan=False).encode()
    f.write(_PREFIX.pack(MAGIC, len(header), zlib.crc32(header)))
    f.write(header)
    for a in arrays:
        f.write(_bytes(a))


def _bytes(a: np.ndarray) -> memoryview:
    """The raw bytes of contiguous `a` (bfloat16 and friends have no buffer format of their own)."""
    return memoryview(a.reshape(-1).view(np.uint8))


def _encode(x, path: str, arrays: list, records: list):
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        if x.dtype.name not in _DTYPES:
            raise TypeError(f"cannot checkpoint {path or 'the tree'}: an array of dtype "
                            f"{x.dtype}; a checkpoint holds arrays of {sorted(_DTYPES)}")
        arrays.append(np.ascontiguousarray(x, x.dtype.newbyteorder("<")))
        records.append({"path": path, "dtype": x.dtype.name, "shape": list(x.shape)})
        return {"array": len(arrays) - 1}
    kind = type(x)
    if kind in (list, tuple):
        return {kind.__name__: [_encode(v, f"{path}[{i}]", arrays, records)
                                for i, v in enumerate(x)]}
    if kind in (dict, collections.OrderedDict):
        return {"dict" if kind is dict else "ordered_dict":
                [[_scalar(k, f"a key of {path or 'the tree'}"),
                  _encode(v, f"{path}[{k!r}]", arrays, records)] for k, v in x.items()]}
    if isinstance(x, tuple) and hasattr(kind, "_fields"):
        if _namedtuples.get(_type_name(kind)) is not kind:
            raise TypeError(f"cannot checkpoint {path or 'the tree'}: a {kind.__name__}, a "
                            f"namedtuple type that is not registered; call spmd.checkpoints."
                            f"register_namedtuple({kind.__name__}) once, in the program that "
                            "saves and in the one that restores (restore builds only registered "
                            "types, so that a file cannot make it run code)")
        return {"namedtuple": _type_name(kind),
                "fields": [[f, _encode(v, f"{path}.{f}", arrays, records)]
                           for f, v in zip(kind._fields, x)]}
    return _scalar(x, path or "the tree")


def _scalar(x, what: str):
    kind = type(x)
    if kind is bool or kind is int or kind is str:
        return {kind.__name__: x}
    if kind is float:
        return {"float": x.hex()}
    if kind is complex:
        return {"complex": [x.real.hex(), x.imag.hex()]}
    if kind is bytes:
        return {"bytes": base64.b64encode(x).decode()}
    raise TypeError(f"cannot checkpoint {what}: a {kind.__name__} ({x!r:.60}); a checkpoint "
                    "holds dicts, lists, tuples, OrderedDicts, registered namedtuples and None, "
                    "with arrays, Python scalars, strings and bytes as leaves (dict keys: "
                    "scalars or strings)")


# ---------------------------------------------------------------- reading
def load(blob: bytes) -> dict:
    """{"step", "tree"} of a checkpoint's bytes, every array's checksum verified. Raises
    DamagedCheckpoint saying what is wrong (its caller adds the path)."""
    if not (blob.startswith(MAGIC) or MAGIC.startswith(blob)):
        if blob[:1] == b"\x80":
            raise NotACheckpoint("it is a pickle (an old spmd checkpoint or another program's "
                                 "file), which spmd does not load: unpickling can run code")
        raise NotACheckpoint(f"it does not begin with {MAGIC!r} (an spmd checkpoint written by "
                             f"spmd.checkpoints.save_checkpoint) but with {blob[:8]!r}")
    if len(blob) < _PREFIX.size:
        raise DamagedCheckpoint(f"it is truncated: {len(blob)} bytes, fewer than the "
                                f"{_PREFIX.size} every checkpoint begins with")
    _, header_size, header_crc = _PREFIX.unpack_from(blob)
    start = _PREFIX.size + header_size
    if len(blob) < start:
        raise DamagedCheckpoint(f"it is truncated: {len(blob)} bytes, fewer than its "
                                f"{start}-byte description")
    header_bytes = blob[_PREFIX.size:start]
    if zlib.crc32(header_bytes) != header_crc:
        raise DamagedCheckpoint("its description of the tree (the JSON header) fails its "
                                "checksum: the file was altered after it was written")
    try:
        header = json.loads(header_bytes)
        if header["format"] != FORMAT:
            raise NotACheckpoint(f"its format is {header['format']!r}, not {FORMAT!r}")
        if header["version"] > VERSION:
            raise DamagedCheckpoint(f"it is a version {header['version']} checkpoint; this spmd "
                                    f"reads up to version {VERSION}: upgrade spmd")
        end = start + sum(int(r["nbytes"]) for r in header["arrays"])
        if len(blob) != end:
            raise DamagedCheckpoint(f"it is {'truncated' if len(blob) < end else 'too long'}: "
                                    f"{len(blob)} bytes where its description says {end}")
        arrays = [_array(blob, start, r, i, len(header["arrays"]))
                  for i, r in enumerate(header["arrays"])]
        return {"step": header["step"], "tree": _decode(header["tree"], arrays)}
    except DamagedCheckpoint:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        raise DamagedCheckpoint(f"its description of the tree is malformed "
                                f"({type(e).__name__}: {e})") from None


def _array(blob: bytes, start: int, record: dict, i: int, count: int) -> np.ndarray:
    name, shape = record["dtype"], tuple(int(n) for n in record["shape"])
    if name not in _DTYPES:
        raise DamagedCheckpoint(f"array {record['path']} has dtype {name!r}, which is not one a "
                                f"checkpoint holds ({sorted(_DTYPES)})")
    dtype = _DTYPES[name].newbyteorder("<")
    offset, nbytes = start + int(record["offset"]), int(record["nbytes"])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes != expected or offset + nbytes > len(blob):
        raise DamagedCheckpoint(f"array {record['path']}: its size does not match {name}"
                                f"{list(shape)}")
    data = memoryview(blob)[offset:offset + nbytes]
    if zlib.crc32(data) != record["crc32"]:
        raise DamagedCheckpoint(f"array {record['path'] or '(the root)'} (array {i} of {count}, "
                                f"{name}{list(shape)}) fails its checksum: its bytes changed "
                                "after it was written")
    # a copy: writable, in the native byte order, and holding none of the file's other bytes
    return np.frombuffer(data, dtype).reshape(shape).astype(_DTYPES[name], copy=True)


def _decode(node, arrays: list):
    if node is None:
        return None
    if "namedtuple" in node:
        return _decode_namedtuple(node, arrays)
    (kind, value), = node.items()
    if kind == "array":
        return arrays[value]
    if kind == "list":
        return [_decode(v, arrays) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in value)
    if kind in ("dict", "ordered_dict"):
        items = [(_decode_scalar(k), _decode(v, arrays)) for k, v in value]
        return dict(items) if kind == "dict" else collections.OrderedDict(items)
    return _decode_scalar(node)


def _decode_namedtuple(node: dict, arrays: list):
    name, fields = node["namedtuple"], node["fields"]
    cls = _namedtuples.get(name)
    if cls is None:
        raise DamagedCheckpoint(f"it names the type {name!r}, which is not a registered "
                                "namedtuple: restore builds only the types registered with "
                                "spmd.checkpoints.register_namedtuple (and never imports or "
                                "calls what a file names); register it before restoring")
    names = [f for f, _ in fields]
    if names != list(cls._fields):
        raise DamagedCheckpoint(f"it saved a {name} with fields {names}, but that type now has "
                                f"fields {list(cls._fields)}")
    return cls(*(_decode(v, arrays) for _, v in fields))


def _decode_scalar(node: dict):
    (kind, value), = node.items()
    if kind in ("int", "str", "bool") and type(value).__name__ == kind:
        return value
    if kind == "float":
        return float.fromhex(value)
    if kind == "complex":
        return complex(float.fromhex(value[0]), float.fromhex(value[1]))
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    raise DamagedCheckpoint(f"its description holds an unknown node {kind!r}")
