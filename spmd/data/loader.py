"""`ShardedLoader`: each process's part of every global batch, split over its local devices
and prefetched onto them in the background, in an order fixed by (seed, epoch)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from spmd.data import order, topology
from spmd.data.placement import put_stacked
from spmd.data.prefetch import Prefetcher
from spmd.data.sources import Source
from spmd.transforms import tree_util

_LAST_BATCH = ("drop", "pad")
_MASK_CLASH = ("last_batch='pad' adds a 'mask' entry to every batch, but the data already has "
               "a 'mask' entry; rename it")
_STATE_KEYS = ("epoch", "step", "seed", "shuffle", "num_rows", "global_batch_size", "last_batch")


class ShardedLoader:
    """Batches of `global_batch_size` examples, of which this process yields its own part with
    every array shaped `[local devices, per-device batch, ...]` (what pmap takes).

    data: a dict, tuple or list of NumPy arrays, `.npy` paths (memory-mapped), or objects with
        `__len__` and `__getitem__(indices)`; all with the same number of rows.
    shuffle, seed: the order of epoch e is the permutation drawn from (seed, e), the same in
        every process, so no process talks to another.
    last_batch: "drop" skips a last global batch shorter than `global_batch_size`; "pad" fills
        it up and every batch then carries a boolean mask, `[local devices, per-device batch]`,
        False on the padding: `batch["mask"]` for a dict source, the last element for a tuple
        or list, `(rows, mask)` for a single array.
    prefetch: how many batches a background thread prepares ahead (0: none, made on demand).
    devices: this process's devices (default: all local devices); batches are spmd.Arrays
        stacked over them, slice i on device i (the input of pmap), or NumPy arrays with
        `to_device=False`. A jitted (not pmapped) step reads best from `devices=[one device]`.
    process_index, process_count: default to spmd.process_index() / process_count().

    Iterating yields the rest of the current epoch; the next iteration starts the next epoch.
    `state_dict()` records the position after the last batch handed out, and
    `load_state_dict()` resumes from it, mid-epoch included.
    """

    def __init__(self, data, global_batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 last_batch: str = "drop", prefetch: int = 2, devices: Sequence | None = None,
                 to_device: bool = True, process_index: int | None = None,
                 process_count: int | None = None):
        for name, value in (("global_batch_size", global_batch_size), ("prefetch", prefetch)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {value!r} "
                                f"({type(value).__name__}); int() would silently change it")
        if last_batch not in _LAST_BATCH:
            raise ValueError(f"last_batch must be 'drop' or 'pad', got {last_batch!r}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0 (0 disables prefetching), got {prefetch}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.source = Source(data)
        self.devices = list(topology.local_devices() if devices is None else devices)
        self.process_count = topology.process_count() if process_count is None else process_count
        self.process_index = topology.process_index() if process_index is None else process_index
        if not 0 <= self.process_index < self.process_count:
            raise ValueError(f"process_index {self.process_index} is out of range for "
                             f"process_count {self.process_count}")
        self.global_batch_size = int(global_batch_size)
        self.shuffle, self.seed, self.last_batch = bool(shuffle), int(seed), last_batch
        self.prefetch, self.to_device = int(prefetch), bool(to_device)
        self._check_sizes()
        self.per_device_batch_size = self.global_batch_size // (
            self.process_count * len(self.devices))
        self.num_batches = order.batches_per_epoch(self.num_rows, self.global_batch_size,
                                                   last_batch == "pad")
        if (last_batch == "pad" and self.source.is_dict
                and "mask" in self.source.treedef.node_data()[1]):
            raise ValueError(_MASK_CLASH)
        self._agree_across_processes()
        self.epoch, self.step = 0, 0
        self._stream = None

    def _agree_across_processes(self):
        """Every process must read the same permutation of the same rows in the same batches:
        with another seed or one row more, each would silently train on its own split of the
        data (examples seen twice, others never). A loader configured for the job's processes
        compares its configuration with theirs once, at the start."""
        if self.process_count != topology.process_count():
            return  # process_index/process_count given by hand: not this job's processes
        topology.check_agreement("the data loader's configuration", {
            "seed": self.seed, "shuffle": self.shuffle, "num_rows": self.num_rows,
            "rows": self.source.layout(), "global_batch_size": self.global_batch_size,
            "last_batch": self.last_batch})

    num_rows = property(lambda self: self.source.num_rows)

    def _check_sizes(self):
        g, p, n_dev = self.global_batch_size, self.process_count, len(self.devices)
        if g < 1:
            raise ValueError(f"global_batch_size must be positive, got {g}")
        if self.num_rows == 0:
            raise ValueError("the dataset is empty (its arrays have 0 rows)")
        if n_dev < 1:
            raise ValueError("the loader needs at least one device")
        if g % (p * n_dev):
            raise ValueError(
                f"global_batch_size {g} is not divisible by the number of devices: "
                f"{p} process(es) x {n_dev} local device(s) = {p * n_dev}. Every device gets "
                f"the same number of examples; choose a multiple of {p * n_dev}.")
        if self.num_rows < g and self.last_batch == "drop":
            raise ValueError(
                f"the dataset has {self.num_rows} rows, fewer than one global batch of {g}, so "
                "with last_batch='drop' no batch would ever be produced; use a smaller "
                "global_batch_size, or last_batch='pad'")

    def __len__(self) -> int:
        """Batches per epoch."""
        return self.num_batches

    # ------------------------------------------------------------------ making batches
    def _epoch_batches(self, epoch: int, start: int):
        """Batches start .. num_batches-1 of `epoch` (a generator; runs in the prefetch thread)."""
        rows_of_epoch = order.epoch_order(self.num_rows, self.seed, epoch, self.shuffle)
        mine = order.process_part(self.global_batch_size, self.process_index, self.process_count)
        for b in range(start, self.num_batches):
            rows, valid = order.global_batch_rows(rows_of_epoch, b, self.global_batch_size)
            yield self._assemble(self.source.read(rows[mine]), valid[mine])

    def _assemble(self, rows, valid):
        split = (len(self.devices), self.per_device_batch_size)
        batch = tree_util.tree_map(lambda x: x.reshape(split + x.shape[1:]), rows)
        if self.last_batch == "pad":
            batch = _with_mask(batch, valid.reshape(split))
        if self.to_device:
            batch = tree_util.tree_map(lambda x: put_stacked(x, self.devices), batch)
        return batch

    # ------------------------------------------------------------------ iteration
    def __iter__(self):
        self.close()
        epoch, start = self.epoch, self.step
        batches = self._epoch_batches(epoch, start)
        stream = Prefetcher(batches, self.prefetch) if self.prefetch else batches
        self._stream = stream
        try:
            for b, batch in zip(range(start, self.num_batches), stream):
                # the position after this batch, so a checkpoint taken while the user holds
                # it resumes with the next one
                self.epoch, self.step = (epoch + 1, 0) if b + 1 == self.num_batches else (epoch,
                                                                                          b + 1)
                yield batch
        finally:
            if self._stream is stream:
                self.close()

    def close(self):
        """Stop prefetching (the background thread ends; prefetched batches are dropped)."""
        stream, self._stream = self._stream, None
        if isinstance(stream, Prefetcher):
            stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        stream = getattr(self, "_stream", None)
        if isinstance(stream, Prefetcher):
            stream.close(timeout=0.5)

    # ------------------------------------------------------------------ resuming
    def state_dict(self) -> dict:
        """Where the loader stands (plain Python values: checkpoint it with the model)."""
        return {"epoch": self.epoch, "step": self.step, "seed": self.seed,
                "shuffle": self.shuffle, "num_rows": self.num_rows,
                "global_batch_size": self.global_batch_size, "last_batch": self.last_batch}

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state` (from state_dict(), possibly of a run with another process or
        device count: the order depends on the global batch only)."""
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"loader state is missing {missing}; pass what state_dict() returned")
        for key in ("seed", "shuffle", "num_rows", "global_batch_size", "last_batch"):
            saved, mine = _plain(state[key]), getattr(self, key)
            if saved != mine:
                raise ValueError(f"the loader state was saved with {key}={saved!r} but this "
                                 f"loader has {key}={mine!r}; resuming would not continue the "
                                 f"same order. Build the loader with {key}={saved!r}.")
        epoch, step = int(_plain(state["epoch"])), int(_plain(state["step"]))
        if not (epoch >= 0 and 0 <= step < self.num_batches):
            raise ValueError(f"loader state epoch={epoch}, step={step} is out of range "
                             f"(an epoch has {self.num_batches} batches)")
        self.close()
        self.epoch, self.step = epoch, step


def _plain(x):
    """A saved value as a Python scalar (a checkpoint may hand back 0-d NumPy arrays)."""
    return x.item() if isinstance(x, (np.ndarray, np.generic)) else x


def _with_mask(batch, mask):
    if isinstance(batch, dict):
        if "mask" in batch:
            raise ValueError(_MASK_CLASH)
        return {**batch, "mask": mask}
    if isinstance(batch, (tuple, list)) and not hasattr(batch, "_fields"):
        return type(batch)([*batch, mask])
    return (batch, mask)
