"""Which address a process advertises to gloo, where its coordinator listens, and when a
coordinator host name on loopback is an error (no processes started; the jobs across the
simulated hosts are in tests/multihost/test_by_hand_and_slurm.py)."""
import socket

import pytest

from spmd.cluster import addresses, loopback_names, mpi_env
from spmd.cluster.addresses import Advertised
from spmd.cluster.slurm_env import SlurmEnv

LOOPBACK_INTERFACE = "lo"  # every Linux host has it


@pytest.fixture
def no_overrides(monkeypatch):
    for name in (addresses.HOST_ADDRESS, addresses.HOST_INTERFACE, addresses.COORDINATOR_BIND,
                 "SLURM_STEP_NUM_NODES", "SLURM_JOB_NUM_NODES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# (arguments, environment, expected): first match wins
ADVERTISED = [
    ({}, {}, Advertised(address="127.0.0.1")),  # local job: loopback
    ({"host_address": "10.0.0.5"}, {}, Advertised(address="10.0.0.5")),
    ({"host_interface": LOOPBACK_INTERFACE}, {}, Advertised(interface=LOOPBACK_INTERFACE)),
    ({}, {"SPMD_HOST_ADDRESS": "10.0.0.6"}, Advertised(address="10.0.0.6")),
    ({}, {"SPMD_HOST_INTERFACE": LOOPBACK_INTERFACE}, Advertised(interface=LOOPBACK_INTERFACE)),
    # an address wins over an interface given the same way; an argument over the environment
    ({}, {"SPMD_HOST_ADDRESS": "10.0.0.6", "SPMD_HOST_INTERFACE": "no-such-if"},
     Advertised(address="10.0.0.6")),
    ({"host_interface": LOOPBACK_INTERFACE}, {"SPMD_HOST_ADDRESS": "10.0.0.6"},
     Advertised(interface=LOOPBACK_INTERFACE)),
    ({"host_address": "10.0.0.5"}, {"SPMD_HOST_INTERFACE": LOOPBACK_INTERFACE},
     Advertised(address="10.0.0.5")),
]


@pytest.mark.parametrize("arguments,environment,expected", ADVERTISED)
def test_advertised_first_match_wins(no_overrides, arguments, environment, expected):
    for name, value in environment.items():
        no_overrides.setenv(name, value)
    assert addresses.advertised("127.0.0.1:1234", **arguments) == expected


def test_advertised_is_the_route_source_for_a_remote_coordinator(no_overrides):
    # 127.0.0.2 is loopback too, so ask through an address literal that is not: the local
    # address of the route to a documentation address (nothing is sent), when there is a route
    try:
        expected = addresses.route_source_address("192.0.2.1", 9)
    except RuntimeError:
        pytest.skip("this machine has no route to 192.0.2.1")
    assert addresses.advertised("192.0.2.1:1234") == Advertised(address=expected)


def test_both_arguments_are_an_error(no_overrides):
    with pytest.raises(ValueError, match=r"pass host_address \('10.0.0.5'\) or host_interface "
                                         r"\('lo'\), not both"):
        addresses.advertised("127.0.0.1:1", host_address="10.0.0.5", host_interface="lo")


@pytest.mark.parametrize("given_as", ["argument", "environment"])
def test_an_unknown_interface_is_an_error_naming_the_ones_there(no_overrides, given_as):
    kwargs = {}
    if given_as == "argument":
        kwargs["host_interface"] = "nosuch0"
    else:
        no_overrides.setenv(addresses.HOST_INTERFACE, "nosuch0")
    name = "host_interface" if given_as == "argument" else "SPMD_HOST_INTERFACE"
    with pytest.raises(ValueError, match=rf"{name}='nosuch0': this host has no network "
                                         rf"interface of that name \(it has: .*\blo\b.*\)"):
        addresses.advertised("127.0.0.1:1", **kwargs)


@pytest.mark.parametrize("explicit,environment,expected", [
    (None, None, "10.1.2.3:4000"),              # the coordinator address itself
    (None, "0.0.0.0", "0.0.0.0:4000"),          # a host alone takes the coordinator's port
    (None, "0.0.0.0:5000", "0.0.0.0:5000"),
    (None, "::", "[::]:4000"), (None, "[::]", "[::]:4000"), (None, "[::]:5000", "[::]:5000"),
    ("127.0.0.1:6000", "0.0.0.0", "127.0.0.1:6000"),  # the argument wins
])
def test_coordinator_bind_address(no_overrides, explicit, environment, expected):
    if environment is not None:
        no_overrides.setenv(addresses.COORDINATOR_BIND, environment)
    assert addresses.coordinator_bind_address("10.1.2.3:4000", explicit) == expected


@pytest.mark.parametrize("coordinator,count,spans,is_problem", [
    ("localhost:1", 2, None, False),     # a local job says so by naming loopback
    ("127.0.0.1:1", 2, None, False),
    ("localhost:1", 2, False, False),    # the launcher says: one host
    ("localhost:1", 1, True, False),     # one process has no one to reach it
    ("localhost:1", 2, True, True),      # the launcher says: several hosts
    ("127.0.0.1:1", 4, True, True),
    ("192.0.2.1:1", 2, True, False),     # not loopback
])
def test_when_a_loopback_coordinator_is_a_problem(coordinator, count, spans, is_problem):
    assert (loopback_names.problem(coordinator, count, spans) is not None) == is_problem


def test_the_loopback_problem_says_what_to_do():
    said = loopback_names.problem("localhost:4321", 2, True)
    assert said.startswith("the coordinator's host name 'localhost' resolves to 127.0.0.1")
    assert f"on this host ({socket.gethostname()}), but the job spans several hosts" in said
    for advice in ("Map 'localhost' to this host's network address in /etc/hosts",
                   "set SPMD_COORDINATOR to an address the other hosts reach (e.g. 10.0.0.1:4321)",
                   "set SPMD_COORDINATOR_BIND=0.0.0.0 and SPMD_HOST_ADDRESS"):
        assert advice in said, said


@pytest.mark.parametrize("process_id,bind,explicit,ok", [
    (0, "0.0.0.0:1", True, True), (0, "localhost:1", True, False),
    (0, "0.0.0.0:1", False, False), (1, "localhost:1", True, True), (1, "0.0.0.0:1", False, False),
])
def test_the_workaround_needs_a_reachable_bind_and_a_given_address(process_id, bind, explicit,
                                                                    ok):
    assert loopback_names.tolerated(process_id, bind, explicit) == ok


def test_the_waiting_hint_names_the_address_what_it_resolves_to_and_the_cause():
    hint = loopback_names.waiting_hint("localhost:1234", 10)
    assert "after 10 s for the spmd coordinator at localhost:1234 (localhost is 127.0.0.1" in hint
    assert "127.0.1.1 in /etc/hosts" in hint and "set SPMD_COORDINATOR" in hint
    assert "(no-such-host.invalid is nothing here)" in loopback_names.waiting_hint(
        "no-such-host.invalid:1", 10)


@pytest.mark.parametrize("nodes,spans", [(None, None), ("1", False), ("3", True)])
def test_slurm_says_whether_the_job_spans_hosts(no_overrides, nodes, spans):
    if nodes is not None:
        no_overrides.setenv("SLURM_STEP_NUM_NODES", nodes)
    assert SlurmEnv.spans_hosts() is spans


def test_mpi_coordinator_host():
    assert mpi_env.coordinator_host(["n1", "n1"]) == "127.0.0.1"  # one host: loopback
    assert mpi_env.coordinator_host(["192.0.2.1", "192.0.2.2"]) == "192.0.2.1"  # rank 0's
    with pytest.raises(RuntimeError, match=r"rank 0's host name 'localhost' resolves to loopback "
                                           r"on its host, .* spans hosts \['localhost', "
                                           r"'no-such-host.invalid'\]: map the host names"):
        mpi_env.coordinator_host(["localhost", "no-such-host.invalid"])


def test_mpi_coordinator_host_avoids_a_loopback_name():
    try:
        expected = addresses.route_source_address("192.0.2.1", 9)
    except RuntimeError:
        pytest.skip("this machine has no route to 192.0.2.1")
    assert mpi_env.coordinator_host(["localhost", "192.0.2.1"]) == expected
