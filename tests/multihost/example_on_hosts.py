"""The training example (examples/train_data_parallel.py) across the two simulated hosts, as
each launcher's test starts it: the command line (the smallest run of tests/examples, under
scripts/on_host.py, which says where each rank ran and over what it reduced) and the checks
that it ran across the hosts and ended where one process on the whole batch ends."""
import os
import re

import numpy as np

from spmd import checkpoints
from spmd.transforms import tree_util
from tests.examples import test_train_example as train_example

ON_HOST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts", "on_host.py")


def example_argv(checkpoint_dir) -> list[str]:
    """The example's script and arguments, behind on_host.py; process 0 writes its checkpoint to
    `checkpoint_dir` (both hosts share this machine's file system)."""
    return [ON_HOST, train_example.SCRIPT, *train_example.ARGS, "--checkpoint-dir",
            str(checkpoint_dir)]


def ranks_hosts(output: str, devices: int, transport: str) -> dict[int, str]:
    """{rank: the host it ran on} from every process's output together, once the checks that
    both ranks ran the example to its end, over `devices` CPU devices each, and reduced between
    processes over `transport`, have passed."""
    assert f"data-parallel over {2 * devices} cpu devices in 2 processes" in output, output
    assert f"stopped at step {train_example.MULTI_STEPS}" in output, output
    found = re.findall(r"process (\d) on host (\S+) reduced between processes over (\w+)", output)
    assert sorted(rank for rank, _, _ in found) == ["0", "1"], output[-3000:]
    assert {over for _, _, over in found} == {transport}, found
    return {int(rank): host for rank, host, _ in found}


def assert_ends_like_one_process(checkpoint_dir, want):
    """The run's final checkpoint holds the parameters, optimizer state and loader position of
    the single-process run `want` (the `single_process_training` fixture)."""
    got = checkpoints.restore_checkpoint(checkpoint_dir)
    assert got["step"] == want["step"] == train_example.MULTI_STEPS
    assert got["loader"] == want["loader"]
    for x, y in zip(tree_util.tree_leaves((got["params"], got["opt_state"])),
                    tree_util.tree_leaves((want["params"], want["opt_state"]))):
        # gloo or MPI may add the partial gradients in another order than one process does
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
