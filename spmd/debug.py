"""`spmd.debug`, as `jax.debug`: `print`, `log` and `callback`, which run Python on the values a
program computes, eagerly and from inside jit, vmap (once per element), grad (on the primal
values) and pmap (once per device). `ordered=True` keeps the calls of one program in program
order. The callback receives NumPy arrays (JAX hands it its Arrays). `breakpoint` enters pdb
(spmd/debug_breakpoint.py); `inspect_array_sharding`, `visualize_array_sharding` and
`visualize_sharding` show layouts (spmd/debug_sharding.py)."""
from __future__ import annotations

import builtins
import logging
import sys
from typing import Any, Callable

import numpy as np

from spmd.transforms import callbacks as _cb
from spmd.transforms import core, tree_util
from spmd.debug_breakpoint import breakpoint  # noqa: F401
from spmd.debug_sharding import (inspect_array_sharding, visualize_array_sharding,  # noqa: F401
                                 visualize_sharding)
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.array import Array

__all__ = ["callback", "print", "log", "DebugEffect", "OrderedDebugEffect",
           "visualize_array_sharding", "inspect_array_sharding", "visualize_sharding",
           "breakpoint"]

logger = logging.getLogger("spmd.debug")  # debug.log's records (JAX's: jax._src.debugging)


class DebugEffect:
    """The effect of debug.callback and debug.print in JAX's programs. spmd keeps a program's
    callbacks by marking the primitive as having effects, so this type is only a name."""

    def __str__(self):
        return "Debug"


class OrderedDebugEffect:
    """The effect of `ordered=True` callbacks in JAX's programs (a name, as DebugEffect)."""

    def __str__(self):
        return "OrderedDebug"


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             partitioned: bool = False, **kwargs: Any) -> None:
    """Call `callback(*args, **kwargs)` for its effect when the program runs, the array
    leaves of the arguments as NumPy arrays (other leaves passed as they are)."""
    if not callable(callback):
        raise TypeError(f"debug.callback expected a callable as its first argument, got "
                        f"{type(callback).__name__}: {callback!r:.60}")
    leaves, tree = tree_util.tree_flatten((args, kwargs))
    dynamic = [_is_array(x) for x in leaves]
    static = [None if d else x for x, d in zip(leaves, dynamic)]

    def flat_callback(*values):
        it = iter(values)
        full = [next(it) if d else s for d, s in zip(dynamic, static)]
        call_args, call_kwargs = tree_util.tree_unflatten(tree, full)
        callback(*call_args, **call_kwargs)
    _cb.debug_callback_p.bind(*[x for x, d in zip(leaves, dynamic) if d],
                              callback=_cb.Callback(flat_callback), ordered=bool(ordered))


def print(fmt: str, *args: Any, ordered: bool = False, partitioned: bool = False,  # noqa: A001
          skip_format_check: bool = False, **kwargs: Any) -> None:
    """`print(fmt.format(*args, **kwargs))` with the values the program computes, as
    `jax.debug.print("x = {x}", x=x)`."""
    _formatted("debug.print", fmt, args, kwargs, builtins.print, ordered, skip_format_check)


def log(fmt: str, *args: Any, ordered: bool = False, partitioned: bool = False,
        skip_format_check: bool = False, **kwargs: Any) -> None:
    """As `print`, but the text goes to the logger "spmd.debug" at INFO level, recorded at
    the file and line that called `log` (JAX's `jax.debug.log`)."""
    caller = sys._getframe(1)
    record = logger.makeRecord(logger.name, logging.INFO, caller.f_code.co_filename,
                               caller.f_lineno, "", (), None)

    def emit(text):
        if logger.isEnabledFor(logging.INFO):
            record.msg = text
            logger.handle(record)
    _formatted("debug.log", fmt, args, kwargs, emit, ordered, skip_format_check)


def _formatted(name, fmt, args, kwargs, emit, ordered, skip_format_check):
    """`emit(fmt.format(...))` with the values the program computes."""
    if not isinstance(fmt, str):
        raise TypeError(f"{name} expects a format string first, got "
                        f"{type(fmt).__name__}: {fmt!r:.60}")
    if not skip_format_check:  # a wrong placeholder fails here, not when the program runs
        blanks = tree_util.tree_map(lambda _: _Blank(), (args, kwargs))
        fmt.format(*blanks[0], **blanks[1])

    def show(*values, **named):
        values, named = tree_util.tree_map(_formattable, (values, named))
        emit(fmt.format(*values, **named))
    callback(show, *args, ordered=ordered, **kwargs)


def _is_array(x) -> bool:
    return isinstance(x, (Array, core.Tracer, np.ndarray, np.generic))


def _formattable(x):
    """0-d arrays as NumPy scalars, which take format specs ({x:.3f})."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


class _Blank:
    """Stands for any argument while the format string is checked."""

    def __format__(self, spec):
        return ""

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self


__getattr__ = _module_getattr("spmd.debug", "jax.debug")
