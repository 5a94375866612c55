"""Loaders of one job agree on their configuration before the first batch: a process with
another seed or another dataset length would otherwise train silently on its own split (rows
seen twice, others never). Real jobs of 2 processes (scripts/loader_agreement_job.py)."""
import pytest

from local_job import run_job


@pytest.mark.timeout(120)
def test_agreeing_loaders_read_every_row_once_per_epoch():
    ended = run_job("loader_agreement_job.py", 2, "nothing")
    seen = []
    for i, p in enumerate(ended):
        assert p.code == 0, f"process {i}:\n{p.stderr}"
        seen += [int(v) for v in p.stdout.split("seen", 1)[1].split()]
    assert sorted(seen) == list(range(64))  # the oracle: each row exactly once


@pytest.mark.timeout(120)
@pytest.mark.parametrize("differs, field, mine, theirs", [
    ("seed", "seed", "7", "8"), ("rows", "num_rows", "64", "65")])
def test_a_loader_that_differs_is_refused_on_every_process(differs, field, mine, theirs):
    ended = run_job("loader_agreement_job.py", 2, differs)
    for i, p in enumerate(ended):
        assert p.code == 3, f"process {i}:\n{p.stdout}\n{p.stderr}"
        values = (mine, theirs) if i == 0 else (theirs, mine)
        other = 1 - i
        assert (f"the data loader's configuration differs between processes: {field} is "
                f"{values[0]} on process {i} but {values[1]} on process {other}") in p.stdout
