"""The core: abstract values, primitives, the program IR and its printer, and the trace stack.

A value seen by a transform is a `Tracer` that belongs to one `Trace`. Exactly one trace is
current; `Primitive.bind` hands the operation to it. Every trace except the eval trace has a
parent: it interprets the operation its own way (differentiate, batch, stage into a program) and
runs whatever it computes on its parent. Values of an outer trace reach an inner one untouched
and are treated there as constants; values of a trace that has ended are "escaped" and rejected.
"""
from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from spmd.transforms import dtypes, errors


# ---------------------------------------------------------------- abstract values
class ShapedArray:
    """What every transform knows of a value: shape, dtype, and whether the dtype is weak
    (it came from a Python scalar and yields to the other operand's type)."""
    __slots__ = ("shape", "dtype", "weak_type", "_hash")

    def __init__(self, shape, dtype, weak_type=False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)
        self._hash = hash((self.shape, self.dtype, self.weak_type))  # avals key every cache

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak(self) -> "ShapedArray":
        return self.update(weak_type=False) if self.weak_type else self

    def tangent_aval(self) -> "ShapedArray":
        """Tangents of ints and bools are float0, as in JAX."""
        return self if dtypes.is_inexact(self.dtype) else ShapedArray(self.shape, dtypes.float0)

    def _key(self):
        return (self.shape, self.dtype, self.weak_type)

    def __eq__(self, other):
        return self is other or (isinstance(other, ShapedArray) and self._hash == other._hash
                                 and self._key() == other._key())

    def __hash__(self):
        return self._hash

    def str_short(self) -> str:
        name = _SHORT_DTYPE.get(self.dtype, str(self.dtype))
        return f"{name}[{','.join(map(str, self.shape))}]" + ("{weak}" if self.weak_type else "")

    # JAX's two forms: str `float32[3,4]` (`~` in front when weakly typed), repr
    # `ShapedArray(float32[3,4], weak_type=True)`; programs and errors use str_short's f32[3,4]
    def _long(self) -> str:
        name = "float0" if self.dtype == dtypes.float0 else np.dtype(self.dtype).name
        return f"{name}[{','.join(map(str, self.shape))}]"

    __str__ = lambda self: ("~" if self.weak_type else "") + self._long()  # noqa: E731
    __repr__ = lambda self: (f"ShapedArray({self._long()}"  # noqa: E731
                             + (", weak_type=True)" if self.weak_type else ")"))


_SHORT_DTYPE = {np.dtype(k): v for k, v in [
    (np.bool_, "bool"), (np.int8, "i8"), (np.int16, "i16"), (np.int32, "i32"), (np.int64, "i64"),
    (np.uint8, "u8"), (np.uint16, "u16"), (np.uint32, "u32"), (np.uint64, "u64"),
    (np.float16, "f16"), (np.float32, "f32"), (np.float64, "f64"),
    (np.complex64, "c64"), (np.complex128, "c128")]}
_SHORT_DTYPE[dtypes.bfloat16] = "bf16"
_SHORT_DTYPE[dtypes.float0] = "float0"

# Types whose values carry their own aval (Tracer, spmd.Array); others are abstractified below.
pytype_aval_mappings: dict[type, Callable[[Any], ShapedArray]] = {}


def get_aval(x) -> ShapedArray:
    """The abstract value of anything an operation accepts."""
    handler = pytype_aval_mappings.get(type(x))
    if handler is not None:
        return handler(x)
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic):
        dtype, weak = dtypes.python_scalar_dtype(x)
        if isinstance(x, int) and not isinstance(x, bool):
            _check_int_range(x, dtype)
        return ShapedArray((), dtype, weak)
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(np.shape(x), dtypes.canonicalize(x.dtype))
    if hasattr(x, "__jax_array__"):
        return get_aval(x.__jax_array__())
    raise TypeError(f"value of type {type(x).__name__} is not a valid array: {x!r:.80}. "
                    "Pass a NumPy array, a Python scalar, or an spmd.Array.")


def _check_int_range(x: int, dtype):
    info = np.iinfo(dtype)
    if not info.min <= x <= info.max:
        raise OverflowError(f"Python int {x} is too large for {dtype}; "
                            "pass it as a NumPy array of a wider dtype (or enable_x64)")


# ---------------------------------------------------------------- primitives
abstract_eval_rules: dict["Primitive", Callable] = {}


class Primitive:
    """A named operation. Its rules live in the registries of the transforms, filled in the
    file that declares it. A `collective` one makes the replicas of a program meet when it runs
    (an all-reduce, a permutation between devices): pmap bounds the executions in flight of
    every program that has one, or XLA's CPU collectives can deadlock (spmd/inflight.py)."""
    multiple_results = False
    collective = False

    def __init__(self, name: str, multiple_results: bool = False, *, collective: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.collective = collective

    def bind(self, *args, **params):
        return _state.trace.process_primitive(self, args, params)

    def abstract_eval(self, *avals, **params):
        rule = rule_for(abstract_eval_rules, self, "abstract evaluation")
        return rule(*avals, **params)

    def def_abstract_eval(self, rule):
        abstract_eval_rules[self] = rule
        return rule

    def __repr__(self):
        return self.name


class MissingRuleError(NotImplementedError):
    pass


def rule_for(registry: dict, prim: Primitive, transform: str):
    rule = registry.get(prim)
    if rule is None:
        raise MissingRuleError(f"primitive '{prim.name}' has no {transform} rule, so it cannot be "
                               f"used under {transform}")
    return rule


def out_avals_of(prim: Primitive, avals, params) -> list[ShapedArray]:
    out = prim.abstract_eval(*avals, **params)
    return list(out) if prim.multiple_results else [out]


# ---------------------------------------------------------------- the IR
class Var:
    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval


class Literal:
    """A scalar constant written into the program text."""
    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval


class Eqn:
    # scope: the enclosing spmd.named_scope names, "a/b" ("" outside any), for the HLO metadata
    __slots__ = ("prim", "invars", "outvars", "params", "scope")

    def __init__(self, prim, invars, outvars, params, scope: str = ""):
        self.prim, self.invars, self.outvars, self.params = prim, invars, outvars, params
        self.scope = scope


class Jaxpr:
    """A typed SSA program: `outvars = eqns(constvars, invars)`."""

    def __init__(self, constvars, invars, outvars, eqns):
        self.constvars, self.invars = list(constvars), list(invars)
        self.outvars, self.eqns = list(outvars), list(eqns)

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __str__(self):
        return JaxprPrinter().program(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A program with the values of its constvars."""

    def __init__(self, jaxpr: Jaxpr, consts: Sequence):
        self.jaxpr, self.consts = jaxpr, list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)

    def __str__(self):
        return str(self.jaxpr)

    __repr__ = __str__


def subprograms(params: dict):
    """The programs among an equation's params (control-flow bodies and branches, the bodies of
    call primitives), as open Jaxprs."""
    for value in params.values():
        for p in value if isinstance(value, tuple) else (value,):
            if isinstance(p, (Jaxpr, ClosedJaxpr)):
                yield p.jaxpr if isinstance(p, ClosedJaxpr) else p


def primitives_in(jaxpr: Jaxpr) -> set:
    """Every primitive that a program binds, those of its sub-programs included."""
    found, todo = set(), [jaxpr]
    while todo:
        for eqn in todo.pop().eqns:
            found.add(eqn.prim)
            todo.extend(subprograms(eqn.params))
    return found


class JaxprPrinter:
    """Prints programs as `{ lambda c ; a:f32[3] . let b:f32[3] = sin a in (b) }`."""

    def __init__(self):
        self.names: dict[int, str] = {}
        self.counter = itertools.count()

    def name(self, v) -> str:
        if isinstance(v, Literal):
            return repr(v.val.item() if isinstance(v.val, np.ndarray) else v.val)
        if id(v) not in self.names:
            self.names[id(v)] = _var_name(next(self.counter))
        return self.names[id(v)]

    def decl(self, v) -> str:
        return f"{self.name(v)}:{v.aval.str_short()}"

    def program(self, jaxpr: Jaxpr, indent: int = 0) -> str:
        pad = " " * indent
        consts = " ".join(self.decl(v) for v in jaxpr.constvars)
        args = " ".join(self.decl(v) for v in jaxpr.invars)
        lines = [f"{{ lambda {consts} ; {args} . let"]
        for eqn in jaxpr.eqns:
            lhs = " ".join(self.decl(v) for v in eqn.outvars)
            lines.append(f"{pad}    {lhs} = {eqn.prim.name}{self.params(eqn.params, indent + 4)} "
                         + " ".join(self.name(v) for v in eqn.invars))
        outs = " ".join(self.name(v) for v in jaxpr.outvars)
        lines.append(f"{pad}  in ({outs}) }}")
        return "\n".join(lines)

    def params(self, params: dict, indent: int) -> str:
        if not params:
            return ""
        shown = []
        for k, v in params.items():
            programs = list(subprograms({k: v}))
            if isinstance(v, (Jaxpr, ClosedJaxpr)):
                v = self.program(programs[0], indent + 4)
            elif isinstance(v, tuple) and v and len(programs) == len(v):
                v = "(" + ", ".join(self.program(b, indent + 4) for b in programs) + ")"
            shown.append(f"{k}={v}")
        return "[" + " ".join(shown) + "]"


def _var_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    while True:
        name = letters[i % 26] + name
        i = i // 26 - 1
        if i < 0:
            return name


def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence, *args) -> list:
    """Run a program on the current trace, one `bind` per equation."""
    env: dict[Var, Any] = {}

    def read(v):
        return v.val if isinstance(v, Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        out = eqn.prim.bind(*map(read, eqn.invars), **eqn.params)
        env.update(zip(eqn.outvars, out if eqn.prim.multiple_results else [out]))
    return [read(v) for v in jaxpr.outvars]


def eval_closed(closed: ClosedJaxpr, *args) -> list:
    return eval_jaxpr(closed.jaxpr, closed.consts, *args)


# ---------------------------------------------------------------- traces and tracers
class Trace:
    """Interprets primitives applied to its tracers. `parent` runs what it computes."""
    parent: "Trace | None" = None

    def process_primitive(self, prim: Primitive, args: Sequence, params: dict):
        raise NotImplementedError

    def is_alive(self) -> bool:
        return True


# spmd's names for JAX's error classes (jax.errors), which spmd.errors exports
ConcretizationError = errors.ConcretizationTypeError
EscapedTracerError = errors.UnexpectedTracerError


def _converting(operation: str, tracer, error: type):
    """tracer.to_concrete(operation), its concretization error raised as `error` (JAX's
    class for that conversion)."""
    try:
        return tracer.to_concrete(operation)
    except ConcretizationError as e:
        if isinstance(e, error):
            raise
        raise error(str(e)) from None


class Tracer:
    """A value inside a transform. Operators (`+`, indexing, ...) are installed by spmd.numpy."""
    __array_priority__ = 1000
    __slots__ = ("_trace",)

    @property
    def aval(self) -> ShapedArray:
        raise NotImplementedError

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)
    itemsize = property(lambda self: self.aval.dtype.itemsize)
    nbytes = property(lambda self: self.aval.size * self.aval.dtype.itemsize)

    def to_concrete(self, operation: str):
        """The concrete value behind this tracer, or a ConcretizationError naming `operation`."""
        raise ConcretizationError(
            f"{operation} needs a concrete value, but got a traced value {self.aval.str_short()} "
            f"(inside jit, vmap, pmap or a control-flow body its value is not known while the "
            f"program is traced). Use spmd.lax.cond / spmd.lax.select / spmd.numpy.where for "
            f"branches on traced values, or mark the argument static with static_argnums.")

    def __bool__(self):
        return bool(_converting("converting a traced value to a Python bool (an `if`, "
                                "`while`, `and`/`or`)", self, errors.TracerBoolConversionError))

    def __int__(self):
        return int(self.to_concrete("converting a traced value to a Python int"))

    def __float__(self):
        return float(self.to_concrete("converting a traced value to a Python float"))

    def __complex__(self):
        return complex(self.to_concrete("converting a traced value to a Python complex"))

    def __index__(self):
        return int(self.to_concrete("using a traced value as a Python index"))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(_converting("converting a traced value to a NumPy array", self,
                                      errors.TracerArrayConversionError), dtype)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        raise TypeError(f"a traced value {self.aval.str_short()} is not hashable; "
                        "mark it static (static_argnums) if it must be used as a key")

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"


class EvalTrace(Trace):
    """The bottom of every stack: runs each primitive now, on a device."""

    def process_primitive(self, prim, args, params):
        for x in args:
            if isinstance(x, Tracer):
                raise EscapedTracerError(
                    f"a traced value {x.aval.str_short()} from a finished "
                    f"{type(x._trace).__name__} was used outside the transform that made it "
                    f"(primitive '{prim.name}'). Return values from the transformed function "
                    "instead of storing them in globals or closures.")
        impl = impl_rules.get(prim)
        if impl is not None:
            return impl(*args, **params)
        return eager_apply(prim, args, params)


# `impl_rules[prim]` runs a primitive eagerly some other way than as a one-op program
# (call primitives run their sub-program compiled whole).
impl_rules: dict[Primitive, Callable] = {}


def eager_apply(prim, args, params):
    raise NotImplementedError("spmd.transforms.eager installs the eager executor")


def set_eager_executor(fn):
    global eager_apply
    eager_apply = fn


eval_trace = EvalTrace()


class _ThreadState(threading.local):
    """The current trace and the named axes bound around it, one pair per thread: a thread
    (the data loader's prefetching) computes eagerly while another traces. A new thread starts
    with the eval trace and no axes."""

    def __init__(self):
        self.trace: Trace = eval_trace
        self.axis_env: list[AxisFrame] = []


def current_trace() -> Trace:
    return _state.trace


@contextlib.contextmanager
def set_current_trace(trace: Trace):
    state = _state
    prev, state.trace = state.trace, trace
    try:
        yield
    finally:
        state.trace = prev


def is_concrete(x) -> bool:
    """True for values known now (not traced)."""
    return not isinstance(x, Tracer)


# ---------------------------------------------------------------- named axes
class AxisFrame:
    """A named mapped axis bound by vmap or pmap. `kind` is 'vmap' or 'pmap'; pmap frames also
    know the replica groups their collectives lower to. `spmd_axis_name` (vmap only): the mesh
    axes, a tuple of names, the mapped dimension is split over inside jit over a mesh."""
    __slots__ = ("name", "size", "kind", "trace", "spmd_axis_name")

    def __init__(self, name, size, kind, trace=None, spmd_axis_name=None):
        self.name, self.size, self.kind, self.trace = name, size, kind, trace
        self.spmd_axis_name = spmd_axis_name

    def spmd_entry(self):
        """The PartitionSpec entry of the mapped dimension: None (unsplit), a name or names."""
        names = self.spmd_axis_name
        return None if names is None else names[0] if len(names) == 1 else names


_state = _ThreadState()


@contextlib.contextmanager
def extend_axis_env(frame: AxisFrame):
    env = _state.axis_env
    env.append(frame)
    try:
        yield
    finally:
        env.pop()


def axis_frame(name) -> AxisFrame:
    env = _state.axis_env
    for frame in reversed(env):
        if frame.name == name:
            return frame
    bound = [f.name for f in env if f.name is not None]
    raise NameError(f"unbound axis name: {name!r}. The names bound by the enclosing pmap/vmap are "
                    f"{bound}; pass axis_name={name!r} to the pmap or vmap whose axis you mean."
                    if bound else
                    f"unbound axis name: {name!r}: collectives over a named axis must run inside "
                    f"pmap(..., axis_name={name!r}) or vmap(..., axis_name={name!r}).")


def axis_env() -> tuple[AxisFrame, ...]:
    return tuple(_state.axis_env)
