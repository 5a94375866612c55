"""Context managers that change how code is traced, as JAX's: `named_scope` (a name for the
operations traced inside it) and `ensure_compile_time_eval` (operations on concrete values
computed now, even under jit). Per thread, as the current trace is."""
from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def name_stack() -> tuple[str, ...]:
    """The names of the enclosing named_scopes, outermost first."""
    return getattr(_state, "names", ())


def current_scope() -> str:
    """The enclosing named_scopes as one name, "outer/inner" ("" outside any)."""
    return "/".join(name_stack())


@contextlib.contextmanager
def named_scope(name: str):
    """`with named_scope("layer1"): ...` or `@named_scope("layer1")`: a name for the operations
    traced inside, for reading programs and profiles: each operation's location in the lowered
    program, "layer1/tanh", which XLA keeps as its op_name metadata (as JAX does)."""
    if not isinstance(name, str):
        raise TypeError(f"named_scope name argument must be a string, got "
                        f"{type(name).__name__}: {name!r:.60}")
    before = name_stack()
    _state.names = before + (name,)
    try:
        yield
    finally:
        _state.names = before


def compile_time_eval_active() -> bool:
    return getattr(_state, "compile_time_eval", False)


@contextlib.contextmanager
def ensure_compile_time_eval():
    """Inside it, an operation whose inputs are all concrete (no traced values) is computed at
    once, even while jit traces, so its result is a concrete Array that Python can branch on;
    operations on traced values are traced as usual."""
    before = compile_time_eval_active()
    _state.compile_time_eval = True
    try:
        yield
    finally:
        _state.compile_time_eval = before
