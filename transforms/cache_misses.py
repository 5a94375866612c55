"""JAX's `jax_explain_cache_misses`: when a jitted function is traced again, a log record
(logger "spmd.cache_misses", WARNING while the setting is on) says why no earlier trace fitted,
in JAX's words: a function never seen, or, against the closest earlier call, the input pytree,
the static arguments or the input types that differ."""
from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger("spmd.cache_misses")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# spmd's own files: installed, all under spmd/; in a source checkout, its layers' folders
_OWN = ((_ROOT + os.sep,) if os.path.basename(_ROOT) == "spmd" else
        tuple(os.path.join(_ROOT, layer) + os.sep
              for layer in ("transforms", "spmd", "collectives", "cluster", "launch")))


def _callsite() -> str:
    """The first frame outside spmd: where the user called the jitted function."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_OWN):
        frame = frame.f_back
    if frame is None:
        return "(unknown)"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})"


def _defined_at(fun) -> str:
    code = getattr(fun, "__code__", None)
    return f" defined at {code.co_filename}:{code.co_firstlineno}" if code else ""


def explain(fun, name: str, key: tuple, seen: list, labels) -> None:
    """Log why `key` = (static args, static kwargs, input tree, avals, axes, ...) missed the
    traces `seen` of `fun`; `labels()` names the inputs."""
    lines = [f"TRACING CACHE MISS at {_callsite()}:"]
    if not seen:
        lines.append(f"  never seen function:\n    {name} id={id(fun)}{_defined_at(fun)}")
    else:
        lines.append(f"  for {name}{_defined_at(fun)}")
        lines.append("  all previously seen cache keys differ. For the closest previous key:")
        lines.append("  " + min((_difference(key, old, labels) for old in seen))[1])
    logger.warning("\n".join(lines))


def _difference(new: tuple, old: tuple, labels) -> tuple[int, str]:
    """(how far, explanation) between two keys; a smaller first part is closer."""
    (static, static_kw, tree, avals, axes), (o_static, o_kw, o_tree, o_avals, o_axes) = (
        new[:5], old[:5])
    if tree != o_tree:
        return 1, f"different input pytree:\n  * now {tree} and before {o_tree}"
    if (static, static_kw) != (o_static, o_kw):
        return 2, (f"different static arguments:\n  * now {static + static_kw} and before "
                   f"{o_static + o_kw}")
    if avals != o_avals:
        diffs = [f"  * at {label}, now {_short(a)} and before {_short(b)}"
                 for label, a, b in zip(labels(), avals, o_avals) if a != b]
        return 3, "different input types:\n" + "\n".join(diffs)
    if axes != o_axes:
        return 4, f"different named axes in scope:\n  * now {axes} and before {o_axes}"
    return 5, "different argument shardings or current mesh"


def _short(aval) -> str:
    weak = "{weak_type=True}" if getattr(aval, "weak_type", False) else ""
    text = aval.str_short() if hasattr(aval, "str_short") else str(aval)
    return text + weak
