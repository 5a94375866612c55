"""JAX's ahead-of-time stages for jit and pmap: `f.lower(*args)` gives a `Lowered` (the
StableHLO program for those argument types), `.compile(compiler_options)` a `Compiled` (XLA's
executable), which is called with the same arguments as `f` (less the static ones) and checks
them first.

One implementation serves both transforms. Each hands over a *program*: an object with
`name`, `text` (the StableHLO module), `in_avals`, `out_avals` and `donated` (per argument
leaf, in the user's layout) and `compile(options)`, which returns an *executable*: called with
the argument leaves it returns the output Arrays, and it has `executable` (the backend's),
`input_placements` and `output_placements` (a Placement per leaf).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import backend, core, tree_util
from spmd.transforms.core import ShapedArray, Tracer
from spmd.transforms.shapes import ShapeDtypeStruct

_DIALECTS = ("stablehlo", "hlo")


class ArgInfo:
    """One argument leaf of a lowered function: its type and whether it is donated."""
    __slots__ = ("_aval", "donated")

    def __init__(self, aval: ShapedArray, donated: bool):
        self._aval, self.donated = aval, bool(donated)

    shape = property(lambda self: self._aval.shape)
    dtype = property(lambda self: self._aval.dtype)

    def __repr__(self):
        return f"ArgInfo(shape={self.shape}, dtype={self.dtype.name}, donated={self.donated})"


class Placement:
    """Where a compiled program takes an argument or leaves a result: on one device
    ('single'), split along dimension 0 with one row per device ('stacked', pmap's mapped
    values) or whole on each device ('replicated', pmap's broadcast values)."""
    __slots__ = ("kind", "devices")

    def __init__(self, kind: str, devices: Sequence):
        self.kind, self.devices = kind, tuple(devices)

    device_set = property(lambda self: set(self.devices))
    num_devices = property(lambda self: len(self.devices))
    is_fully_replicated = property(lambda self: self.kind != "stacked")

    def __eq__(self, other):
        return (type(other) is Placement and self.kind == other.kind
                and self.devices == other.devices)

    def __hash__(self):
        return hash((self.kind, self.devices))

    def __repr__(self):
        return f"Placement({self.kind!r}, devices={[d.id for d in self.devices]})"


class _Stage:
    """What Lowered and Compiled share: the argument and result structure."""

    def __init__(self, program, in_tree, out_tree, labels: Callable[[], list]):
        self._program, self.in_tree, self.out_tree = program, in_tree, out_tree
        self._labels = labels  # called only to word an error

    @property
    def args_info(self):
        """The (args, kwargs) pytree of ArgInfo, one per argument leaf (static ones left out)."""
        return self.in_tree.unflatten([ArgInfo(a, d) for a, d in zip(self._program.in_avals,
                                                                     self._program.donated)])

    @property
    def in_avals(self):
        return self.in_tree.unflatten(list(self._program.in_avals))

    @property
    def donate_argnums(self) -> tuple:
        """The indices of the donated leaves (as JAX numbers them: flat)."""
        return tuple(i for i, d in enumerate(self._program.donated) if d)

    @property
    def out_info(self):
        """The pytree of ShapeDtypeStructs of the results."""
        return self.out_tree.unflatten([ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type)
                                        for a in self._program.out_avals])


class Lowered(_Stage):
    """A function lowered for fixed argument types: its StableHLO program, ready to compile."""

    def as_text(self, dialect: str | None = None, *, debug_info: bool = False) -> str:
        """The program as text: StableHLO (MLIR, the default) or XLA's HLO before any pass."""
        if _dialect(dialect) == "hlo":
            return backend.hlo_text(self._program.text)
        return backend.stablehlo_text(self._program.text, debug_info)

    def compiler_ir(self, dialect: str | None = None):
        """The program as an object: an MLIR module (stablehlo) or an XlaComputation (hlo)."""
        if _dialect(dialect) == "hlo":
            return backend.hlo_computation(self._program.text)
        return backend.stablehlo_module(self._program.text)

    def compile(self, compiler_options: dict | None = None) -> "Compiled":
        """Compile with XLA. `compiler_options` ({name: value}) are XLA's debug options
        (`xla_cpu_enable_fast_math`, `xla_disable_all_hlo_passes`, ...)."""
        executable = self._program.compile(backend.compiler_options_key(compiler_options))
        return Compiled(self._program, self.in_tree, self.out_tree, self._labels, executable)

    def cost_analysis(self) -> dict:
        """XLA's cost estimates of the program, compiled with the default options."""
        return self.compile().cost_analysis()


class Compiled(_Stage):
    """A compiled function for fixed argument types. Calling it runs XLA's executable on
    arguments of those types (checked: another structure, shape or dtype is a TypeError)."""

    def __init__(self, program, in_tree, out_tree, labels, executable):
        super().__init__(program, in_tree, out_tree, labels)
        self._executable = executable

    def as_text(self) -> str:
        """XLA's optimized HLO: the program after its passes (fusions, layouts, schedule)."""
        return self._executable.executable.hlo_text()

    def cost_analysis(self) -> dict:
        """XLA's estimates: 'flops', 'bytes accessed', 'transcendentals', ... as jaxlib
        reports them."""
        return self._executable.executable.cost_analysis()

    def memory_analysis(self):
        """XLA's memory estimates (argument, output, alias, temporary and code sizes)."""
        return self._executable.executable.memory_analysis()

    def runtime_executable(self):
        return self._executable.executable.loaded

    @property
    def input_shardings(self):
        """The (args, kwargs) pytree of Placements of the arguments."""
        return self.in_tree.unflatten(list(self._executable.input_placements))

    @property
    def output_shardings(self):
        """The pytree of Placements of the results."""
        return self.out_tree.unflatten(list(self._executable.output_placements))

    def __call__(self, *args, **kwargs):
        leaves, tree = tree_util.tree_flatten((args, kwargs))
        if tree != self.in_tree:
            raise TypeError(_tree_mismatch(self.in_tree, (args, kwargs), tree))
        _check_types(self._program, leaves, self._labels)
        return self.out_tree.unflatten(self._executable(leaves))


def _dialect(dialect) -> str:
    dialect = "stablehlo" if dialect is None else dialect
    if dialect not in _DIALECTS:
        raise ValueError(f"unknown dialect: {dialect}; use one of {', '.join(_DIALECTS)}")
    return dialect


def _tree_mismatch(expected, given, given_tree) -> str:
    head = ("Function compiled with input pytree does not match the input pytree it was "
            "called with")
    try:
        tree_util.flatten_up_to(expected, given)
    except ValueError as e:  # names the first place where they part
        where = str(e).replace("at [0]", "at args").replace("at [1]", "at kwargs")
        return f"{head}: {where}. Call it with arguments of the structure it was lowered for"
    return (f"{head}: compiled for {expected}, called with {given_tree}. Call it with "
            "arguments of the structure it was lowered for")


def _check_types(program, leaves, labels) -> None:
    """JAX's checks of a compiled call: no tracers (the signature is fixed, transforms would
    change it) and the shape and dtype of every argument leaf as lowered."""
    errors = []
    for i, (x, expected) in enumerate(zip(leaves, program.in_avals)):
        if isinstance(x, Tracer) or core.current_trace() is not core.eval_trace:
            raise TypeError(
                "Cannot apply transformations (jit, grad, vmap, pmap) to a function lowered and "
                f"compiled for a particular signature: {program.name} got a traced argument. "
                "Transform the function first, then lower and compile the result")
        if isinstance(x, (ShapeDtypeStruct, ShapedArray)):
            raise TypeError(f"a compiled {program.name} runs on data: argument leaf {i} is a "
                            f"{type(x).__name__}; pass an array of that shape and dtype")
        got = core.get_aval(x)
        if (got.shape, got.dtype) != (expected.shape, expected.dtype):
            errors.append((i, expected, got))
    if errors:
        names = labels()
        # labels read "argument 0 (x)['w']" or "keyword argument 'y'"
        lines = [f"{names[i][0].upper()}{names[i][1:]} compiled with {_short(e)} and called "
                 f"with {_short(g)}" for i, e, g in errors[:5]]
        count = f"The first 5 of {len(errors)}" if len(errors) > 5 else "The"
        raise TypeError("Argument types differ from the types for which this computation was "
                        f"compiled. {count} mismatches are:\n" + "\n".join(lines))


def _short(aval: ShapedArray) -> str:
    return f"{np.dtype(aval.dtype).name}[{','.join(map(str, aval.shape))}]"
