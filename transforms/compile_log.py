"""JAX's `jax_log_compiles`: each XLA compilation is logged (logger "spmd.compiles") with the
program's name and argument types before it starts and its time when it ends, at WARNING
while the setting is on and at DEBUG otherwise, as JAX logs them."""
from __future__ import annotations

import contextlib
import logging
import re
import time

from spmd.transforms.config import config

logger = logging.getLogger("spmd.compiles")

_NAME = re.compile(r"module @([\w.$-]+)")
_MAIN_ARGUMENTS = re.compile(r"func\.func public @main\((.*?)\)\s*->", re.S)
_TENSOR = re.compile(r"tensor<([^>]*)>")


def _describe(module_text: str) -> tuple[str, str]:
    """The program's name and its arguments' types ('f32[3,4]') as StableHLO text has them."""
    name = _NAME.search(module_text)
    main = _MAIN_ARGUMENTS.search(module_text)
    types = []
    for tensor in _TENSOR.findall(main.group(1) if main else ""):
        *dims, dtype = tensor.split("x")
        types.append(f"{dtype}[{','.join(dims)}]")
    return (name.group(1) if name else "program"), "[" + ", ".join(types) + "]"


@contextlib.contextmanager
def compiling(module_text: str):
    level = logging.WARNING if config.log_compiles else logging.DEBUG
    if not logger.isEnabledFor(level):  # the common case: no text is parsed
        yield
        return
    name, types = _describe(module_text)
    logger.log(level, "Compiling %s with global shapes and types %s.", name, types)
    start = time.perf_counter()
    yield
    logger.log(level, "Finished XLA compilation of %s in %.6f sec", name,
               time.perf_counter() - start)
