"""Where this process stands in the job, for the data pipeline and checkpoints: its index, the
process count and its local devices (spmd.devices answers, from the backend, which knows the
whole job once spmd.distributed.initialize() ran), a barrier across the processes, and a check
that they agree on a configuration."""
from __future__ import annotations

from spmd import distributed
from spmd.cluster import host_collectives
from spmd.devices import local_devices, process_count, process_index  # noqa: F401


def barrier(name: str) -> None:
    """Wait until every process reaches this point (a no-op in a single process)."""
    if process_count() == 1:
        return
    distributed.sync_global_devices(name)


def check_agreement(what: str, fields: dict) -> None:
    """Raise on every process, naming each differing field and its values, unless all processes
    hold the same `fields` (a no-op in a single process)."""
    if process_count() == 1:
        return
    host_collectives.check_agreement(what, fields)
