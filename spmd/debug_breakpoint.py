"""jax.debug.breakpoint: Python's debugger (pdb) where it is called. Run eagerly, it stops in
the caller's frame. Inside jit (vmap, grad, pmap) it stops when the compiled program reaches
it, through a host callback: pdb then shows the caller's local names, its arrays with the
values the program computed (NumPy arrays, as host callbacks receive them) and its other
locals as they were when the function was traced."""
from __future__ import annotations

import pdb
import sys

import numpy as np

from spmd.transforms import callbacks, core
from spmd.transforms.array import Array


def breakpoint(*, backend: str | None = None, filter_frames: bool = True,  # noqa: A001
               num_frames: int | None = None, ordered: bool = False, token=None, **kwargs):
    """Enter pdb here, eagerly or when the program runs (see the module's text). `backend`
    may be None or 'cli' (pdb is spmd's command-line debugger); `token` is returned as it
    is, as JAX's."""
    if backend not in (None, "cli"):
        raise ValueError(f"debug.breakpoint: spmd's debugger is pdb, the 'cli' backend; got "
                         f"backend={backend!r}")
    frame = sys._getframe(1)
    names = [n for n, v in frame.f_locals.items() if _is_array(v)]
    if not any(isinstance(frame.f_locals[n], core.Tracer) for n in names):
        _debugger().set_trace(frame)
        return token
    constants = {n: v for n, v in frame.f_locals.items() if n not in names}

    def stop(*values):
        _stop_with(frame.f_globals, {**constants, **dict(zip(names, values))})
    callbacks.debug_callback_p.bind(*[frame.f_locals[n] for n in names],
                                    callback=callbacks.Callback(stop), ordered=bool(ordered))
    return token


def _is_array(value) -> bool:
    return isinstance(value, (Array, core.Tracer, np.ndarray))


def _debugger() -> pdb.Pdb:
    # reads sys.stdin / sys.stdout as they are now (tests replace them)
    return pdb.Pdb(stdin=sys.stdin, stdout=sys.stdout)


def _stop_with(global_names: dict, local_names: dict) -> None:
    """pdb in a frame whose locals are `local_names` (the traced function's, with values)."""
    names = [n for n in local_names if n.isidentifier()]
    source = (f"def _breakpoint({', '.join(names)}):\n"
              f"    _debugger().set_trace()\n"
              f"    return None\n")
    namespace = {**global_names, "_debugger": _debugger}
    exec(compile(source, "<jax.debug.breakpoint>", "exec"), namespace)  # noqa: S102
    namespace["_breakpoint"](**{n: local_names[n] for n in names})
