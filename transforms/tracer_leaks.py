"""JAX's `jax_check_tracer_leaks`: when a transform's trace ends (jit, make_jaxpr, a loop or
branch body, grad's linearization, jvp, vmap), a traced value still held by anything (a
global, a list outside the function) is an error that names it and what holds it, as JAX's
"Leaked trace" error. Off by default: it runs the garbage collector after every trace."""
from __future__ import annotations

import gc
import types

from spmd.transforms import core


def check(trace) -> None:
    """Raises where tracers of the finished `trace` are still alive."""
    gc.collect()  # tracers kept alive only by reference cycles cannot reach user code
    leaked = [x for x in gc.get_referrers(trace) if isinstance(x, core.Tracer)]
    if leaked:
        tracers = "\n\n".join(f"{t!r}{_held_by(t, leaked)}" for t in leaked)
        raise Exception(f"Leaked trace {type(trace).__name__}. Leaked tracer(s):\n\n"
                        f"{tracers}\n")


# frames, generators and closure cells hold the tracer on the way; the holders worth naming
# are the containers and globals they lead to
_PLUMBING = (types.FrameType, types.GeneratorType, types.CellType)


def _held_by(tracer, ignore) -> str:
    """What holds the tracer: one line per holder (a module's global is named)."""
    lines = []
    for holder in gc.get_referrers(tracer):
        if holder is ignore or isinstance(holder, _PLUMBING):
            continue
        modules = [m for m in gc.get_referrers(holder) if isinstance(m, types.ModuleType)]
        if isinstance(holder, dict) and modules:
            names = [k for k, v in holder.items() if v is tracer]
            lines.append(f"the global {names[0]!r} of module {modules[0].__name__}")
        else:
            lines.append(f"a {type(holder).__name__} object")
    return ("\nheld by " + ", ".join(lines)) if lines else ""
