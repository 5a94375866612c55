"""Joining a multi-process job: `initialize()` and `shutdown()` (spmd.distributed).

Process 0 runs jaxlib's distributed runtime service (the coordinator: a key-value store,
barriers, heartbeats); every process connects a client to it, and the backend then builds a
CPU client whose device list spans all processes, with gloo TCP collectives between them.

Never a silent hang: a coordinator that cannot be reached fails with the address and the
timeout; one of another job, or something that is no coordinator, fails at once, before
jaxlib's client registers (jaxlib would end the other job, or abort this process). Once
connected, every process sends heartbeats; when one stops (the process died) the runtime
terminates every other process within `heartbeat_timeout_seconds` with a message
that another task died. (jaxlib 0.10.2 cannot hand that event to a Python callback: its
status type has no Python conversion, so the runtime's own termination is the mechanism.)
A process that leaves on its own (it finished, called sys.exit, or crashed) says so in the
key-value store, so host collectives waiting for it fail at once; process 0, which serves
the coordinator, waits at exit until every other process has left.
"""
from __future__ import annotations

import atexit
import os
import sys
import time
import warnings
from typing import Sequence

from spmd.cluster import addresses, job_identity, loopback_names, mpi_world, stall_watch
from spmd.cluster.cluster_env import JobSpec, by_name, detect, resolve
from spmd.cluster.mpi_env import MpiEnv
from spmd.cluster.mpi_stall_watch import StallWatch, WatchedComm
from spmd.cluster.spmd_run_env import COORDINATOR
from spmd.transforms import backend
from spmd.transforms.config import config


# How long a process waits for the others (at shutdown, in host collectives). Long: a peer may
# still be computing; a peer that died ends the job much sooner through the heartbeats.
PEER_WAIT_SECONDS = 30 * 60


class _State:
    """This process's membership of a job (process 0 of 1 until initialize())."""

    def __init__(self):
        self.spec: JobSpec | None = None
        self.service = None
        self.identity = None  # process 0's job-identity service (cluster/job_identity.py)
        self.client = None
        self.mpi_world = None  # MPI's COMM_WORLD formed through the coordinator, if any
        self.crashing = False  # an uncaught exception is ending the process


state = _State()


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None,
               local_device_ids: int | Sequence[int] | None = None,
               cluster_detection_method: str | None = None,
               initialization_timeout: int = 300,
               coordinator_bind_address: str | None = None, *,
               heartbeat_timeout_seconds: int = 10, host_address: str | None = None,
               host_interface: str | None = None,
               collective_timeout: float | None = None) -> None:
    """Join the job: as in `jax.distributed.initialize`, before any computation.

    With no arguments the launcher is detected (spmd-run, a Ray worker of spmd, mpiexec,
    Slurm); explicit arguments win, and $SPMD_COORDINATOR names the coordinator under any
    launcher. Process 0 serves the coordinator on `coordinator_bind_address`, else
    $SPMD_COORDINATOR_BIND, else the coordinator address itself (so a loopback address stays
    on loopback; nothing listens on all interfaces unless you name 0.0.0.0); a bind address
    without a port ('0.0.0.0') takes the coordinator's port.
    `local_device_ids` restricts a GPU process to those devices; the CPU backend uses all of
    its `cpu_devices` devices (as JAX's CPU backend does).
    The collectives (gloo) reach this process at, first match wins: `host_address`;
    the address of the network interface `host_interface` (e.g. 'eth1'); $SPMD_HOST_ADDRESS;
    $SPMD_HOST_INTERFACE; loopback when the coordinator is on loopback; else the local
    address of the route to the coordinator. An address wins over an interface given the same
    way (it says exactly what the interface would only imply); passing both arguments is an
    error.
    A coordinator host name that resolves to loopback here (Debian's 127.0.1.1) while the job
    spans hosts is an error at once, on every process, saying what to do.
    A process joins only its own job's coordinator (cluster/job_identity.py): the job id is
    $SPMD_JOB_ID (spmd-run sets it; set it by hand for jobs started by hand), else the
    launcher's (Slurm's job and step, one that MPI's rank 0 broadcasts), else none; a process
    of another job, one whose place is taken, or an address that leads to something other
    than spmd's coordinator, is a Python error at once, and the job served there goes on.
    Every process then waits until the whole job has arrived (a TimeoutError naming the
    missing processes after `initialization_timeout`), before jaxlib's connect.
    A pmap execution across processes that waits `collective_timeout` seconds (else
    $SPMD_COLLECTIVE_TIMEOUT, else 30 minutes) ends every process of the job with an error
    naming the processes that never started it; a warning comes first, after
    $SPMD_COLLECTIVE_WARN seconds (60, or half the timeout if that is sooner).
    A job of several processes that mpiexec did not start then forms an MPI world through the
    coordinator (cluster/mpi_world.py), for pmap's all-reduces between processes, unless
    cross_process_collectives is 'gloo'; where a process cannot join, one warning says why
    and gloo carries them.
    """
    if state.client is not None:
        spec = state.spec
        raise RuntimeError(f"spmd.distributed.initialize() was already called in this process "
                           f"(process {spec.process_id} of {spec.num_processes}, coordinator "
                           f"{spec.coordinator_address}); call it once per process")
    collective_limits = stall_watch.limits(collective_timeout)
    spec = resolve(coordinator_address or os.environ.get(COORDINATOR), num_processes,
                   process_id, local_device_ids, cluster_detection_method)
    if backend.backend_started():
        raise RuntimeError("spmd.distributed.initialize() must be called before any spmd "
                           "computation: this process has already used the backend (an array "
                           "was created or a function ran). Call it first thing in the script")
    timeout = int(initialization_timeout)
    if timeout < 1:
        raise ValueError(f"initialization_timeout must be at least 1 second, got {timeout}")
    deadline = time.monotonic() + timeout
    bind_address = addresses.coordinator_bind_address(spec.coordinator_address,
                                                      coordinator_bind_address)
    advertised = addresses.advertised(spec.coordinator_address, host_address, host_interface)
    _check_coordinator_name(spec, bind_address, host_address or host_interface or any(
        os.environ.get(v) for v in (addresses.HOST_ADDRESS, addresses.HOST_INTERFACE)))
    service = identity = None
    if spec.process_id == 0:
        service, identity = _start_coordinator(spec, bind_address, heartbeat_timeout_seconds)
    else:
        _join(spec, timeout, deadline)
    try:
        # jaxlib's connect aborts the process when the others do not all come in time: wait
        # for them here, where the timeout is a Python error naming who is missing.
        _wait_for_everyone(spec, identity, timeout, deadline)
    except BaseException:
        _stop(service, identity)
        raise
    left = max(1, int(deadline - time.monotonic()))
    client = backend.distributed_client(spec.coordinator_address, spec.process_id,
                                        init_timeout=left,
                                        heartbeat_timeout=heartbeat_timeout_seconds)
    # Blocks until every process has connected; a process that never comes ends the job
    # after `left` seconds with the runtime's DEADLINE_EXCEEDED message.
    client.connect()
    # Nobody leaves initialize() before everyone's connect() has returned: a coordinator
    # that died just after its own connect() would otherwise leave a process still
    # registering, retrying until the timeout, where heartbeats cannot yet end it.
    left = max(1, int(deadline - time.monotonic()))
    try:
        client.wait_at_barrier("spmd/initialized", left * 1000)
    except backend.JaxRuntimeError as e:
        raise RuntimeError(f"process {spec.process_id} of {spec.num_processes} connected to the "
                           f"coordinator at {spec.coordinator_address}, but the job did not "
                           f"assemble within initialization_timeout={timeout} s: "
                           f"{str(e).splitlines()[0]}") from None
    backend.set_distributed(client, spec.process_id, spec.num_processes,
                            host_address=advertised.address, interface=advertised.interface)
    state.spec, state.service, state.client = spec, service, client
    state.identity = identity
    _install_exit_hooks()
    state.mpi_world = _form_mpi_world(spec, client, timeout)
    stall_watch.start(client, spec.process_id, spec.num_processes, *collective_limits,
                      end=end_now)


def shutdown() -> None:
    """Leave the job: announce it, and on process 0 (whose coordinator the others use until
    they leave) wait until every process has left; then disconnect and stop the coordinator.
    Runs at exit by itself. Does nothing when not initialized."""
    client, service, spec = state.client, state.service, state.spec
    identity, world = state.identity, state.mpi_world
    state.client = state.service = state.identity = state.mpi_world = None
    if client is None:
        return
    stall_watch.stop()
    if world is not None:
        world.stop_watching()
    try:
        client.key_value_set(f"{_LEAVING}{spec.process_id}", "left")
        mpi_world.free_sub_communicators()
        mpi_world.leave()
        if service is not None:
            _wait_until_everyone_left(client, spec.num_processes)
    except backend.JaxRuntimeError as e:
        raise RuntimeError(f"process {spec.process_id} could not leave the job cleanly: "
                           f"{str(e).splitlines()[0]}") from None
    finally:
        client.shutdown()
        _stop(service, identity)


def has_left(process: int) -> bool:
    """Whether `process` has left the job (it announces so in shutdown())."""
    client = state.client
    return client is not None and any(key == f"{_LEAVING}{process}"
                                      for key, _ in client.key_value_dir_get(_LEAVING))


_LEAVING = "spmd/leaving/"
_NOTICE_SECONDS = 10
_HINT_SECONDS = 10  # how long a process waits for the coordinator before it says why it might


def _wait_until_everyone_left(client, count: int) -> None:
    # jaxlib's client.shutdown() does not wait for the others; without this wait, process 0
    # would take the key-value store and gloo's rendezvous away from processes still working.
    start = time.monotonic()
    noticed = False
    while True:
        left = {key for key, _ in client.key_value_dir_get(_LEAVING)}
        waiting = [i for i in range(count) if f"{_LEAVING}{i}" not in left]
        if not waiting:
            return
        waited = time.monotonic() - start
        if waited > PEER_WAIT_SECONDS:
            raise TimeoutError(f"process 0 left the job after waiting {PEER_WAIT_SECONDS} s for "
                               f"processes {waiting} to finish")
        if waited > _NOTICE_SECONDS and not noticed:
            noticed = True
            print(f"spmd: process 0 has finished; it serves the job's coordinator, so it waits "
                  f"for processes {waiting} to finish too", file=sys.stderr, flush=True)
        time.sleep(0.05)


def is_initialized() -> bool:
    return state.client is not None


def process_index() -> int:
    """This process's index in the job (0 when not distributed)."""
    return state.spec.process_id if state.spec is not None else 0


def process_count() -> int:
    """How many processes the job has (1 when not distributed)."""
    return state.spec.num_processes if state.spec is not None else 1


def mpi_communicator():
    """MPI's world communicator when this job's processes are its ranks, in the same order
    (the job was started by mpirun/mpiexec, or its processes formed the world through the
    coordinator at initialize()): pmap can then reduce between processes over MPI.
    None otherwise (a single process, no mpi4py, gloo asked for, or forming failed)."""
    if state.mpi_world is not None:
        return state.mpi_world
    spec = state.spec
    if spec is None or spec.num_processes < 2 or not MpiEnv.is_present():
        return None
    if (MpiEnv.process_count(), MpiEnv.process_id()) != (spec.num_processes, spec.process_id):
        return None
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


def _form_mpi_world(spec: JobSpec, client, timeout: int):
    """MPI's COMM_WORLD for a job of several processes that mpiexec did not start, formed
    through the coordinator (cluster/mpi_world.py), unless gloo was asked for; None where it
    cannot be formed, which one warning says (pmap's collectives then go over gloo)."""
    choice = str(config.cross_process_collectives).strip().lower()
    if spec.num_processes < 2 or MpiEnv.is_present() or choice not in ("auto", "mpi"):
        return None
    try:
        comm = mpi_world.form(client, spec.process_id, spec.num_processes, timeout * 1000)
    except mpi_world.MpiWorldUnavailable as e:
        if spec.process_id == 0 or not e.everywhere:  # one warning for a cause all share
            warnings.warn(f"spmd: this job's processes could not form an MPI world ({e}), so "
                          f"pmap's collectives between processes go over gloo, which is slower."
                          f" Set cross_process_collectives='gloo' (SPMD_CROSS_PROCESS_"
                          f"COLLECTIVES=gloo) to choose gloo without this warning",
                          RuntimeWarning, stacklevel=3)
        return None

    def departed() -> dict[int, str]:
        return {int(key.rsplit("/", 1)[1]): how for key, how in client.key_value_dir_get(_LEAVING)}

    def end_stalled(process: int, how: str) -> None:
        print(f"spmd: process {spec.process_id} ended: process {process} "
              f"{'crashed' if how == 'crashed' else 'exited'} while this process waited for it "
              f"in a collective between processes (over MPI): the processes did not run the "
              f"same pmap steps", file=sys.stderr, flush=True)
        state.crashing = True
        _shutdown_at_exit()
    return WatchedComm(comm, StallWatch(spec.process_id, departed, end_stalled))


def distributed_client():
    """The connected runtime client (its key-value store and barriers), or None."""
    return state.client


def _start_coordinator(spec: JobSpec, bind_address: str, heartbeat_timeout: int):
    """Process 0's services: the job's identity first (a newcomer finding the coordinator's
    port open without it knows it has found something else), then the coordinator."""
    there = job_identity.existing_job(spec.coordinator_address)
    if there is not None:
        raise RuntimeError(f"process 0 of {spec.num_processes}: cannot start the spmd "
                           f"coordinator on {bind_address}: another spmd job (job id "
                           f"{there['job']!r}, {there['processes']} processes) is already "
                           f"served at {spec.coordinator_address}. Give each job its own "
                           f"coordinator address (spmd-run picks a free port by itself)")
    # jaxlib crashes the process on an address it cannot resolve; check it here first.
    addresses.check_bindable(bind_address)
    identity = job_identity.IdentityServer(bind_address, spec.coordinator_address, spec.job_id,
                                           spec.num_processes)
    try:
        service = backend.distributed_service(bind_address, spec.num_processes,
                                              heartbeat_timeout=heartbeat_timeout)
    except backend.JaxRuntimeError as e:
        identity.close()
        raise RuntimeError(f"cannot start the spmd coordinator on {bind_address}: {e}") from None
    return service, identity


def _stop(service, identity) -> None:
    if service is not None:
        service.shutdown()
    if identity is not None:
        identity.close()


def _check_coordinator_name(spec: JobSpec, bind_address: str, explicit_address) -> None:
    env = by_name(spec.environment) if spec.environment != "arguments" else None
    problem = loopback_names.problem(spec.coordinator_address, spec.num_processes,
                                     env.spans_hosts() if env is not None else None)
    if problem is None or loopback_names.tolerated(spec.process_id, bind_address,
                                                   bool(explicit_address)):
        return
    raise RuntimeError(f"process {spec.process_id} of {spec.num_processes}: {problem}")


def _join(spec: JobSpec, timeout: int, deadline: float) -> None:
    """Be admitted by process 0's job-identity service: only then may this process register
    with the coordinator (a stranger registering there would end the job it serves)."""
    me = f"process {spec.process_id} of {spec.num_processes}"
    hint_after = min(_HINT_SECONDS, timeout / 2)

    def hint():
        print(f"spmd: {me}: {loopback_names.waiting_hint(spec.coordinator_address, hint_after)}",
              file=sys.stderr, flush=True)
    try:
        job_identity.join(spec.coordinator_address, spec.job_id, spec.process_id,
                          spec.num_processes, deadline, hint_after, hint)
    except TimeoutError as e:
        raise TimeoutError(f"{me} could not reach the spmd coordinator at "
                           f"{spec.coordinator_address} within initialization_timeout={timeout} "
                           f"s ({e}); is process 0 running, and is the address right?") from None
    except RuntimeError as e:  # NotACoordinator included: keep its type
        raise type(e)(f"{me}: {e}") from None


def _wait_for_everyone(spec: JobSpec, identity, timeout: int, deadline: float) -> None:
    me = f"process {spec.process_id} of {spec.num_processes}"
    missing = identity.missing if identity is not None else \
        job_identity.missing_at(spec.coordinator_address)
    try:
        job_identity.wait_for_everyone(missing, deadline)
    except TimeoutError as e:
        raise TimeoutError(f"{me}: processes {e.args[0]} did not join the job at the spmd "
                           f"coordinator {spec.coordinator_address} within "
                           f"initialization_timeout={timeout} s; were they started, with the "
                           f"same coordinator address and number of processes?") from None
    except (OSError, job_identity.NotACoordinator):
        raise RuntimeError(f"{me}: the spmd coordinator at {spec.coordinator_address} went away "
                           f"while the job assembled; did process 0 end?") from None


_hooks_installed = False


def _install_exit_hooks():
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_hook = sys.excepthook

    def excepthook(*exc_info):
        if stall_watch.ending():  # the watchdog has printed why, and ends the process now
            stall_watch.wait_for_end()
        state.crashing = True
        previous_hook(*exc_info)
    sys.excepthook = excepthook
    atexit.register(_shutdown_at_exit)


def _shutdown_at_exit():
    if state.crashing:
        end_now()
    shutdown()


def end_now() -> None:
    """End this process at once with status 1, from any thread (a crash, or a collective
    that timed out while the main thread waits inside XLA). Waiting for the others could hang
    (they may wait for this process), so: say that this process has left (anyone waiting for
    it fails now) and go, before the runtime's teardown turns status 1 into an abort. Missed
    heartbeats end the rest."""
    try:
        state.client.key_value_set(f"{_LEAVING}{state.spec.process_id}", "crashed")
    except Exception:  # noqa: BLE001  (the coordinator may be gone: leave anyway)
        pass
    mpi_world.leave()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _warn_when_a_launched_process_runs_alone():
    """A script that a launcher started as one of N processes, but that computes before (or
    without) `initialize()`, runs N times as a job of one: say so, once, at its first
    computation."""
    env = detect()
    if env is None or is_initialized():
        return
    try:
        count, me = env.process_count(), env.process_id()
    except (RuntimeError, ValueError):
        return  # the launcher's variables are incomplete: initialize() will say what is wrong
    if count > 1:
        warnings.warn(f"{env.name} started this process as process {me} of {count}, but it "
                      f"computes before spmd.distributed.initialize() was called, so it runs "
                      f"alone, as process 0 of 1, and the {count} processes do not work "
                      f"together. Call spmd.distributed.initialize() first thing in the script.",
                      RuntimeWarning, stacklevel=_first_frame_outside_spmd())


def _first_frame_outside_spmd() -> int:
    """The stacklevel of the user's line that led here, for a warning that points at it."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "spmd":
        frame, level = frame.f_back, level + 1
    return level


backend.on_start_alone(_warn_when_a_launched_process_runs_alone)
