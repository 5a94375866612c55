"""Tests run with 8 XLA CPU devices, set before the backend starts.

Shared fixtures: `x64` (64-bit types on for one test) and `poisoned_jax` (a `jax` package first
on the path, for this process and its subprocesses, that records every attempt to import it).
`pytest --poisoned-jax` puts every test under it."""
import os
import sys
import textwrap

import pytest

os.environ.setdefault("SPMD_CPU_DEVICES", "8")


@pytest.fixture
def x64():
    """64-bit types on for one test (float64 inputs stay float64), the setting restored after."""
    import spmd
    before = spmd.config.enable_x64
    spmd.config.update("enable_x64", True)
    try:
        yield
    finally:
        spmd.config.update("enable_x64", before)


# jaxlib swallows the ImportError of a failed `import jax` (it tries, to use jax's ShapedArray,
# and goes on without it), so the poisoned package also writes each attempt to a log.
_SEPARATOR = "-" * 40 + "\n"
_POISON = '''\
import traceback
with open({log!r}, "a") as f:
    f.write("".join(traceback.format_stack(limit=16)) + {separator!r})
raise ImportError("spmd imported jax")
'''


class PoisonedJax:
    def __init__(self, folder):
        self.folder = str(folder)
        self.log = os.path.join(self.folder, "attempts.log")
        os.makedirs(os.path.join(self.folder, "jax"), exist_ok=True)
        with open(os.path.join(self.folder, "jax", "__init__.py"), "w") as f:
            f.write(_POISON.format(log=self.log, separator=_SEPARATOR))

    def forget(self):
        if os.path.exists(self.log):
            os.remove(self.log)

    def attempts(self) -> list:
        """The stack of every attempt to import jax since the test began."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().split(_SEPARATOR)[:-1]


@pytest.fixture(scope="session")
def _poisoned_jax_package(tmp_path_factory):
    return PoisonedJax(tmp_path_factory.mktemp("poisoned_jax"))


@pytest.fixture
def poisoned_jax(_poisoned_jax_package, monkeypatch):
    """Fails the test if this process or a subprocess it starts tries to import jax."""
    poison = _poisoned_jax_package
    if "jax" in sys.modules:  # pragma: no cover - a test imported the real jax
        pytest.fail("jax is already imported in this process, so the poisoned package cannot "
                    "catch spmd importing it; find the test that imports jax")
    monkeypatch.syspath_prepend(poison.folder)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [poison.folder] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    poison.forget()
    yield poison
    new = poison.attempts()
    if new:
        pytest.fail(f"spmd tried to import jax {len(new)} time(s), which it must never do; the "
                    "first try:\n" + textwrap.indent(new[0], "    "), pytrace=False)


def pytest_addoption(parser):
    parser.addoption("--poisoned-jax", action="store_true",
                     help="run every test with a jax package that records import attempts")


def pytest_collection_modifyitems(config, items):
    items[:] = _files_in_schedule_order(items)
    if config.getoption("--poisoned-jax"):
        for item in items:
            item.fixturenames.append("poisoned_jax")


# The files that take longest (their tests start jobs of several processes: launchers, Ray,
# simulated hosts, the examples' training runs), longest first, as measured on one core. They
# hold few tests each, and xdist's loadfile hands out files by test count, largest first: that
# left them for the end, where the last one given out ran on one worker while the other idled.
# Handed out first, longest first (the usual fix for a greedy schedule), the many short files
# fill in around them. A file missing here only loses its early place.
SLOW_FIRST = (
    "tests/launch/test_spmd_run.py", "tests/spmd/test_pmap_multiprocess.py",
    "tests/launch/test_job_endings.py", "tests/examples/test_train_example.py",
    "tests/launch/test_spmd_run_ray.py", "tests/multihost/test_spmd_run_hosts.py",
    "tests/multihost/test_by_hand_and_slurm.py", "tests/examples/test_jax_style_programs.py",
    "tests/launch/test_collective_stall.py", "tests/multihost/test_ray_hosts.py",
    "tests/cluster/test_fail_fast.py", "tests/examples/test_train_cnn.py",
    "tests/spmd/test_pmap_call_order.py", "tests/cluster/test_job_identity.py",
    "tests/cluster/test_distributed.py", "tests/spmd/test_fetch.py", "tests/launch/test_hosts.py",
    "tests/cluster/test_ray_pool.py", "tests/cluster/test_mpi_world.py",
    "tests/examples/test_train_sharded.py", "tests/multihost/test_checkpoints_hosts.py",
    "tests/cluster/test_loader_agreement.py", "tests/cluster/test_host_collectives.py",
    "tests/cluster/test_checkpoint_damage.py", "tests/spmd/test_mesh_multiprocess.py")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # xdist's own order gives way to ours
        config.option.loadscopereorder = False


def _files_in_schedule_order(items):
    """The items regrouped by file: the slow files first, then the others by test count,
    largest first (xdist's own order); each file's tests keep their order."""
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(path):
        return (0, SLOW_FIRST.index(path)) if path in SLOW_FIRST else (1, -len(files[path]))
    return [item for path in sorted(files, key=rank) for item in files[path]]
