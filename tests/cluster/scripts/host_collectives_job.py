"""Every host collective of spmd.distributed, checked on every process against NumPy on the
values all processes can compute (process i's input is a known function of i)."""
import re

import ml_dtypes
import numpy as np

import spmd
from spmd.cluster import host_collectives
from spmd.transforms.tree_util import tree_leaves, tree_map, tree_structure

spmd.distributed.initialize()
me, n = spmd.process_index(), spmd.process_count()
other = 1 if me == 0 else 0  # the first process whose call differs from mine


def local(i):
    return {"w": np.arange(6, dtype=np.float32).reshape(2, 3) * (i + 1),
            "step": np.int32(10 + i), "half": (np.full(2, i + 0.5, ml_dtypes.bfloat16),)}


def check_equal(got, want):
    assert tree_structure(got) == tree_structure(want), (got, want)
    for g, w in zip(tree_leaves(got), tree_leaves(want)):
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype and g.shape == w.shape, (g, w)
        np.testing.assert_array_equal(g, w)


def expect_error(error, pattern, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except error as e:
        assert re.search(pattern, str(e)), f"{pattern!r} not in {str(e)!r}"
    else:
        raise AssertionError(f"{fn.__name__} did not raise {error.__name__}")


everyone = [local(i) for i in range(n)]
check_equal(spmd.distributed.process_allgather(local(me)),
            tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *everyone))
check_equal(spmd.distributed.process_allgather(np.arange(me + 1), tiled=True),
            np.concatenate([np.arange(i + 1) for i in range(n)]))
check_equal(spmd.distributed.broadcast_one_to_all(local(me)),
            tree_map(np.asarray, local(0)))
check_equal(spmd.distributed.broadcast_one_to_all(local(me), is_source=me == n - 1),
            tree_map(np.asarray, local(n - 1)))
spmd.distributed.assert_equal(local(0), "same everywhere")
spmd.distributed.sync_global_devices("all here")

expect_error(AssertionError, r"^params: leaf 0 differs between processes: process 0 has "
                             r"0\., process 1 has 1\.$",
             spmd.distributed.assert_equal, np.float64(me), "params")
expect_error(RuntimeError, rf"process {me} called sync_global_devices\('point {me}'\) but "
                           rf"process {other} called sync_global_devices\('point {other}'\)",
             spmd.distributed.sync_global_devices, f"point {me}")
expect_error(RuntimeError, "called different host collectives", *(
    (spmd.distributed.sync_global_devices, "x") if me == 0 else
    (spmd.distributed.process_allgather, 1.0)))
expect_error(ValueError, r"process_allgather: leaf 0 is float32\[2\] on process 0 but "
                         r"float32\[3\] on process 1",
             spmd.distributed.process_allgather, np.zeros(2 + me, np.float32))
expect_error(ValueError, f"exactly one source process, but {n} processes passed is_source=True",
             spmd.distributed.broadcast_one_to_all, 1.0, is_source=True)
expect_error(ValueError, r"process 1 passed leaves \[\('float64', \(2,\)\)\] but the source, "
                         r"process 0, passed \[\('float64', \(1,\)\)\]",
             spmd.distributed.broadcast_one_to_all, np.zeros(1 + me))
host_collectives.check_agreement("the program", "f32[4] -> f32[4]")
expect_error(RuntimeError, rf"^the program differs between processes: process {me} has "
                           rf"f32\[{4 + me}\] but process {other} has f32\[{4 + other}\]$",
             host_collectives.check_agreement, "the program", f"f32[{4 + me}]")
spmd.distributed.sync_global_devices("still in step after the errors")
print("all host collective checks passed", flush=True)
