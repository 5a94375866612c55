"""The `hosts` fixture: two simulated hosts (tests/simulated_hosts.py), shared by the tests of a
worker process and removed at its end; the tests are skipped, with the reason, where they
cannot be made."""
import pytest

import simulated_hosts


@pytest.fixture(scope="session")
def hosts():
    reason = simulated_hosts.skip_reason()
    if reason:
        pytest.skip(reason)
    pair = simulated_hosts.HostPair.create()
    yield pair.hosts
    pair.remove()
