"""Where this process stands in the job: its index, the process count, its local devices.

Asked of spmd at call time (spmd.process_index() and friends answer for multi-process jobs once
spmd.distributed.initialize() ran); before those exist, or in a plain single process, the
backend's own answer is used."""
from __future__ import annotations


def _spmd_function(name):
    import spmd
    return getattr(spmd, name, None)


def process_index() -> int:
    fn = _spmd_function("process_index")
    if fn is not None:
        return int(fn())
    from spmd.transforms import backend
    return int(backend.process_index())


def process_count() -> int:
    fn = _spmd_function("process_count")
    return 1 if fn is None else int(fn())


def local_devices() -> list:
    fn = _spmd_function("local_devices")
    if fn is not None:
        return list(fn())
    from spmd.transforms import backend
    return backend.local_devices()


def barrier(name: str) -> None:
    """Wait until every process reaches this point (a no-op in a single process)."""
    if process_count() == 1:
        return
    from spmd import distributed
    distributed.sync_global_devices(name)
