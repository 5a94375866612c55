"""What a Ray job's workers get from the driver (Ray's runtime_env): its environment variables,
less those that describe the driver's own machine, and optionally a working folder, which Ray
zips, stores in the head's GCS and unpacks on every node, so that a script named relative to it
need not exist on the other nodes.

Passed: everything else, notably SPMD_* settings (SPMD_CPU_DEVICES, SPMD_CROSS_PROCESS_COLLECTIVES,
...), XLA_FLAGS and the user's own variables. Kept back, because each node has its own:
- the session and host: HOME, USER, SHELL, HOSTNAME, PWD, TMPDIR, SSH_*, XDG_*, ...;
- software locations: PATH, LD_LIBRARY_PATH, PYTHONPATH, VIRTUAL_ENV, CONDA_* (the node's own
  Python setup runs the job);
- other launchers' variables (SLURM_*, OMPI_*, PMI_*, HYDRA_*, ...): on a worker they would make
  spmd believe it runs under that launcher;
- Ray's own (RAY_*: the node's configuration, and the auth token, a secret that stays out of
  the job's environment);
- per-host and per-process spmd variables (SPMD_HOST_*, SPMD_COORDINATOR*, the process id and
  count: the launcher sets them for each process);
- device assignments (CUDA_VISIBLE_DEVICES, ...), which Ray makes per worker.
"""
from __future__ import annotations

import os

_KEPT_BACK = frozenset({
    "HOME", "USER", "LOGNAME", "SHELL", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "TERM", "DISPLAY",
    "MAIL", "_", "TMPDIR", "TMP", "TEMP", "PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONHOME",
    "PYTHONPATH", "VIRTUAL_ENV", "SPMD_NUM_PROCESSES", "SPMD_PROCESS_ID", "SPMD_LOCAL_RANK",
    "SPMD_RUN_PRIVATE_NETWORK", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"})
_KEPT_BACK_PREFIXES = ("SSH_", "XDG_", "DBUS_", "CONDA_", "SLURM_", "OMPI_", "PMI_", "PMIX_",
                       "HYDRA_", "MPI_", "RAY_", "SPMD_HOST_", "SPMD_COORDINATOR")

# Ray uploads working_dir through the head's GCS, which holds it in memory: a folder larger than
# this is a mistake (a home directory, a data set), not a job's code.
WORKING_DIR_LIMIT_BYTES = 100 * 2**20
# Not part of a job's code; Ray skips them in the upload as we skip them in the count. So are
# virtual environments under any name (a folder holding pyvenv.cfg): `virtual_envs` finds them.
WORKING_DIR_EXCLUDES = (".git", "__pycache__", ".venv", "venv", ".pytest_cache")


def _is_virtual_env(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


def virtual_envs(path: str) -> list[str]:
    """The virtual environments in `path`'s top folder, as Ray's `excludes` name them."""
    return [f"/{d}" for d in sorted(os.listdir(path))
            if d not in WORKING_DIR_EXCLUDES and _is_virtual_env(os.path.join(path, d))]


def driver_env_vars(environ=None) -> dict[str, str]:
    """The driver's environment variables that a worker on another node should see."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items()
            if k not in _KEPT_BACK and not k.startswith(_KEPT_BACK_PREFIXES)}


def checked_working_dir(path: str, limit: int = WORKING_DIR_LIMIT_BYTES) -> str:
    """`path` made absolute, once it is known to be a folder Ray can reasonably upload."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"the working folder to send with the Ray job, {path}, is not a folder")
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in WORKING_DIR_EXCLUDES
                   and not _is_virtual_env(os.path.join(root, d))]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # vanished while we looked
                continue
            if total > limit:
                raise ValueError(
                    f"the working folder to send with the Ray job, {path}, holds more than "
                    f"{limit / 2**20:g} MiB (Ray uploads it through the head node to every "
                    f"node): start from a folder holding only the job's code, e.g. the "
                    f"script's, or do not send one (spmd-run --ray-working-dir none; "
                    f"run_on_ray(working_dir=None)) when the script exists at the same path "
                    f"on every node")
    return path


def job_runtime_env(working_dir: str | None = None, environ=None) -> dict:
    """Ray's runtime_env for a job: the driver's variables, and `working_dir` (checked) if any."""
    runtime_env: dict = {"env_vars": driver_env_vars(environ)}
    if working_dir is not None:
        runtime_env["working_dir"] = checked_working_dir(working_dir)
        runtime_env["excludes"] = list(WORKING_DIR_EXCLUDES) + virtual_envs(
            runtime_env["working_dir"])
    return runtime_env
