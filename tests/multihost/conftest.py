"""The `hosts` fixture: two simulated hosts (tests/simulated_hosts.py), shared by the tests of a
worker process and removed at its end; the tests are skipped, with the reason, where they
cannot be made. `single_process_training`: the reference the training example's runs across
the hosts are compared with."""
import pytest

import simulated_hosts
from spmd import checkpoints
from tests.examples import test_train_example as train_example


@pytest.fixture(scope="session")
def hosts():
    reason = simulated_hosts.skip_reason()
    if reason:
        pytest.skip(reason)
    pair = simulated_hosts.HostPair.create()
    yield pair.hosts
    pair.remove()


@pytest.fixture(scope="session")
def single_process_training(tmp_path_factory):
    """The final checkpoint of the training example on 1 process x 8 devices, as tests/examples
    runs it: what every run of it across the hosts must end with."""
    directory = tmp_path_factory.mktemp("single")
    train_example.train(directory, epochs=1, max_steps=train_example.MULTI_STEPS)
    return checkpoints.restore_checkpoint(directory)
