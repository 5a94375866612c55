"""The built wheel installs only `spmd` at the top level, and a user's own `transforms.py`,
`launch.py`, `cluster.py` and `collectives.py` next to their script shadow nothing: a pmap
script and `spmd-run -n 2` run from that folder against the installed wheel."""
import os
import pathlib
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHADOWS = ("transforms", "launch", "cluster", "collectives")

PMAP_SCRIPT = """
import numpy as np
import spmd, spmd.numpy as jnp
x = np.arange(12.0, dtype=np.float32).reshape(2, 6)
out = spmd.pmap(lambda v: spmd.lax.psum(jnp.sin(v), "i"), axis_name="i")(x)
np.testing.assert_allclose(np.asarray(out), np.broadcast_to(np.sin(x).sum(0), x.shape), rtol=1e-6)
print("pmap ok from", spmd.__file__)
"""

JOB_SCRIPT = """
import numpy as np
import spmd
spmd.distributed.initialize()
n, me = spmd.process_count(), spmd.process_index()
x = np.full((spmd.local_device_count(), 3), me + 1.0, np.float32)
out = np.asarray(spmd.pmap(lambda v: spmd.lax.psum(v, "i"), axis_name="i")(x))
np.testing.assert_allclose(out, np.full_like(x, spmd.local_device_count() * n * (n + 1) / 2))
print(f"job ok {me} of {n}")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a copy: setuptools builds in the tree, and a build/ left there by an earlier build
    # would put modules deleted since into this wheel.
    source = tmp_path_factory.mktemp("source") / "spmd"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "build", "*.egg-info", "__pycache__", "tests", "benchmarks", "examples"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                            str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (path,) = out.glob("spmd-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> pathlib.Path:
    """A fresh venv holding the wheel. Its dependencies come from the test venv's site-packages,
    added by a .pth line: a path added that way has its own .pth files (the editable install's
    finder) left unread, so `spmd` can only come from the wheel."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                   check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c",
                              "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    pathlib.Path(purelib, "test_dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                              "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    return venv


@pytest.fixture
def user_folder(tmp_path) -> pathlib.Path:
    for name in SHADOWS:  # a user's own modules with the names of spmd's layers
        (tmp_path / f"{name}.py").write_text(f"raise RuntimeError('the user\\'s {name}.py "
                                             "was imported')\n")
    (tmp_path / "train.py").write_text(textwrap.dedent(PMAP_SCRIPT))
    (tmp_path / "job.py").write_text(textwrap.dedent(JOB_SCRIPT))
    return tmp_path


def clean_environment(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SPMD_"))}
    return {**env, **extra}


def test_the_wheel_installs_only_spmd_at_the_top_level(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"spmd"}, sorted(top)
    for layer in SHADOWS:  # each layer's folder is inside, under its spmd name
        assert f"spmd/{layer}/__init__.py" in names, layer
    assert "spmd/transforms/lax/control_flow/__init__.py" in names


def test_every_package_folder_is_in_the_wheel(wheel):
    """A new subpackage must be listed in pyproject.toml, or the wheel silently lacks it."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in ROOT.glob("*/**/__init__.py"):
        folder = init.parent.relative_to(ROOT)
        if folder.parts[0] not in ("spmd", *SHADOWS):
            continue
        inside = folder if folder.parts[0] == "spmd" else pathlib.Path("spmd", *folder.parts)
        assert f"{inside.as_posix()}/__init__.py" in names, f"{folder} is missing from the wheel"


def test_a_pmap_script_runs_beside_modules_named_like_spmds_layers(installed, user_folder):
    done = subprocess.run([installed / "bin" / "python", "train.py"], cwd=user_folder,
                          capture_output=True, text=True, timeout=120,
                          env=clean_environment(SPMD_CPU_DEVICES="2"))
    assert done.returncode == 0, done.stderr
    assert f"pmap ok from {installed}" in done.stdout, done.stdout  # the wheel, not the source tree


def test_spmd_run_starts_a_job_beside_modules_named_like_spmds_layers(installed, user_folder):
    done = subprocess.run([installed / "bin" / "spmd-run", "-n", "2", "--cpu-devices", "2",
                           "job.py"],
                          cwd=user_folder, capture_output=True, text=True, timeout=120,
                          env=clean_environment())
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in range(2):
        assert f"job ok {rank} of 2" in done.stdout, done.stdout
