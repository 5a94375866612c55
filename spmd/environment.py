"""jax's names for where a program runs and how it is configured: default_backend, the
process (host) counts, typeof, named_call and print_environment_info."""
from __future__ import annotations

import functools
import importlib.metadata
import platform
import sys
from typing import Callable

import numpy as np

from spmd.devices import devices, process_count, process_index
from spmd.transforms import backend, core
from spmd.transforms.scopes import named_scope


def default_backend() -> str:
    """The platform of the devices computations run on by default ('cpu', 'gpu')."""
    name = devices()[0].platform
    return "gpu" if name in ("cuda", "rocm") else name


def process_indices(backend=None) -> list[int]:
    """Every process's index in the job: [0, 1, ..., process_count() - 1]."""
    return list(range(process_count(backend)))


# JAX's older names of the process functions
host_ids = process_indices


def host_count(backend=None) -> int:
    return process_count(backend)


def host_id(backend=None) -> int:
    return process_index(backend)


def typeof(x) -> core.ShapedArray:
    """The abstract value of `x`: its shape, dtype and weak type (a traced value's too)."""
    return core.get_aval(x)


def named_call(fun: Callable, *, name: str | None = None) -> Callable:
    """`fun` whose operations are traced under the name `name` (its own name by default), as
    named_scope writes it into the program."""
    scope = fun.__name__ if name is None else name

    @functools.wraps(fun)
    def call(*args, **kwargs):
        with named_scope(scope):
            return fun(*args, **kwargs)
    return call


def print_environment_info(return_string: bool = False) -> str | None:
    """The versions and devices this program runs with, for bug reports."""
    found = devices()
    text = "\n".join([
        f"spmd:    {importlib.metadata.version('spmd')}",
        f"jaxlib:  {backend.REQUIRED_JAXLIB}",
        f"numpy:   {np.__version__}",
        f"python:  {sys.version.replace(chr(10), ' ')}",
        f"device info: {found[0].device_kind if found else 'none'}-{len(found)}, "
        f"{process_count()} process(es)",
        f"process_count: {process_count()}",
        f"platform: uname_result{tuple(platform.uname())}",
        "",
    ])
    if return_string:
        return text
    print(text)
    return None
