"""The order of examples, a pure function of (seed, epoch): every process computes the same
permutation with no communication, cuts it into global batches, and takes its own slice.

Global batch b of an epoch is rows b*G .. (b+1)*G-1 of the permutation. Process p of P takes
the contiguous part p*G/P .. (p+1)*G/P-1, which its L local devices split in turn, so the
global batch lines up with pmap's global device axis (process p holds devices p*L .. p*L+L-1).
When the last global batch is padded, its missing rows repeat the epoch's first rows and are
marked invalid in the mask."""
from __future__ import annotations

import numpy as np


def epoch_order(num_rows: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    if not shuffle:
        return np.arange(num_rows, dtype=np.int64)
    return np.random.default_rng((seed, epoch)).permutation(num_rows)


def batches_per_epoch(num_rows: int, global_batch: int, pad_last: bool) -> int:
    return -(-num_rows // global_batch) if pad_last else num_rows // global_batch


def global_batch_rows(order: np.ndarray, batch: int, global_batch: int):
    """(row indices, valid flags) of global batch `batch`; a short last batch is padded."""
    rows = order[batch * global_batch:(batch + 1) * global_batch]
    valid = np.ones(global_batch, dtype=bool)
    short = global_batch - len(rows)
    if short:
        valid[len(rows):] = False
        rows = np.concatenate([rows, np.resize(order, short)])
    return rows, valid


def process_part(global_batch: int, process_index: int, process_count: int) -> slice:
    per_process = global_batch // process_count
    return slice(process_index * per_process, (process_index + 1) * per_process)
