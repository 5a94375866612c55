"""Checkpoints in a real job of 2 processes where only process 0 has the directory: a damaged
newest checkpoint is skipped (process 0 warns; both processes get the intact one), and a
damaged file or a refused save raises the same error on both processes, none of them waiting
for the other (scripts/checkpoint_damage_job.py)."""
import numpy as np
import pytest

from local_job import run_job
from spmd import checkpoints


@pytest.mark.timeout(120)
def test_damage_and_refusals_are_the_same_on_every_process(tmp_path):
    checkpoints.save_checkpoint(tmp_path, {"w": np.array([1.0, 2.0])}, step=1)
    checkpoints.save_checkpoint(tmp_path, {"w": np.array([3.0, 4.0])}, step=2)
    damaged = tmp_path / "checkpoint_2"
    blob = bytearray(damaged.read_bytes())
    blob[-1] ^= 0xFF  # the last byte of w
    damaged.write_bytes(blob)

    ended = run_job("checkpoint_damage_job.py", 2, tmp_path, timeout=90)
    for i, p in enumerate(ended):
        assert p.code == 0, f"process {i}:\n{p.stdout}\n{p.stderr}"
        lines = p.stdout.splitlines()
        assert lines[0].startswith("restored [1.0, 2.0] warned"), lines
        warned = f"checkpoint '{damaged}' is damaged or not an spmd checkpoint: array ['w']"
        assert (warned in lines[0]) == (i == 0), lines[0]  # only process 0 read the files
        assert lines[1].startswith(f"damaged DamagedCheckpoint process 0: checkpoint "
                                   f"'{damaged}' is damaged or not an spmd checkpoint: array "
                                   "['w'] (array 0 of 1, float64[2]) fails its checksum"), lines
        assert lines[2].startswith(f"older ValueError process 0: save_checkpoint: step 0 is older "
                                   f"than the newest checkpoint of {tmp_path}"), lines
