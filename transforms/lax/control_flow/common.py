"""What every control-flow primitive starts from: a user function over pytrees traced to a
sub-program whose closed-over values are hoisted to explicit operands, one program object per
distinct program, and the type checks (with JAX's wording) on branch outputs and loop carries.

Sub-programs are `Jaxpr`s without constvars: their consts are leading invars, passed by the
primitive as ordinary operands so that enclosing transforms see (and differentiate, batch,
stage) them like any other input.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, dtypes, tree_util
from spmd.transforms.core import ClosedJaxpr, Jaxpr, Literal, ShapedArray, Var
from spmd.transforms.lax import elementwise as ew
from spmd.transforms.staging import trace_to_jaxpr


# ---------------------------------------------------------------- one object per program
# Params must be hashable and Jaxprs hash by identity, so equal programs traced twice would
# miss every cache keyed by params (eager executables, compiled jit programs). Interning maps a
# program to the first equal one seen, so a loop body retraced on each eager call (a fresh
# lambda, new closed-over values: they are operands, not part of the program) reuses one
# executable.
_interned: dict = {}
_MAX_INTERNED = 4096


def intern(jaxpr: Jaxpr) -> Jaxpr:
    try:
        key = _structure(jaxpr)
        hash(key)
    except TypeError:  # an unhashable param: keep the program as it is
        return jaxpr
    found = _interned.get(key)
    if found is None:
        if len(_interned) >= _MAX_INTERNED:
            _interned.clear()
        found = _interned[key] = jaxpr
    return found


def _structure(jaxpr: Jaxpr):
    """A hashable description equal for programs that compute the same thing the same way."""
    number: dict[int, int] = {}

    def ref(v):
        if isinstance(v, Literal):  # bytes tell -0.0 from 0.0, and 1 from 1.0 by the aval
            return ("lit", type(v.val), np.asarray(v.val).tobytes(), v.aval)
        return number[id(v)]

    def define(vs):
        for v in vs:
            number[id(v)] = len(number)
        return tuple(v.aval for v in vs)

    head = (define(jaxpr.constvars), define(jaxpr.invars))
    eqns = []
    for e in jaxpr.eqns:
        ins = tuple(ref(v) for v in e.invars)
        eqns.append((e.prim, tuple(sorted(e.params.items())), ins, define(e.outvars)))
    return head, tuple(eqns), tuple(ref(v) for v in jaxpr.outvars)


# ---------------------------------------------------------------- tracing to sub-programs
def hoist_consts(closed: ClosedJaxpr) -> tuple[Jaxpr, list]:
    """(program taking its consts as leading invars, the consts). Host scalars become literals:
    rules create them (zeros, ones) and they need not travel as operands."""
    j = closed.jaxpr
    literals: dict[int, Literal] = {}
    constvars, consts = [], []
    for v, c in zip(j.constvars, closed.consts):
        if isinstance(c, np.ndarray) and c.ndim == 0:
            literals[id(v)] = Literal(c[()], v.aval)
        else:
            constvars.append(v)
            consts.append(c)
    if literals:
        def sub(v):
            return literals.get(id(v), v)
        eqns = [core.Eqn(e.prim, [sub(v) for v in e.invars], e.outvars, e.params) for e in j.eqns]
        j = Jaxpr(j.constvars, j.invars, [sub(v) for v in j.outvars], eqns)
    return intern(Jaxpr([], constvars + j.invars, j.outvars, j.eqns)), consts


def trace_program(flat_fun: Callable, in_avals: Sequence[ShapedArray]) -> tuple[Jaxpr, list]:
    """Stage `flat_fun(*flat_args) -> flat_outs`; returns (program, consts), consts first."""
    return hoist_consts(trace_to_jaxpr(flat_fun, list(in_avals)))


def flatten_fun(fun: Callable, in_tree) -> tuple[Callable, list]:
    """`fun` over pytrees as a function of flat leaves; the output structure lands in the box."""
    out_tree_box: list = []

    def flat(*leaves):
        out = fun(*tree_util.tree_unflatten(in_tree, leaves))
        out_leaves, out_tree = tree_util.tree_flatten(out)
        out_tree_box.append(out_tree)
        return out_leaves
    return flat, out_tree_box


def trace_fun(fun: Callable, args_tree, in_avals) -> tuple[Jaxpr, list, object]:
    """Trace `fun(*args)` for arguments of structure `args_tree` (a tuple) and these leaf avals:
    (program, consts, output structure)."""
    flat, box = flatten_fun(fun, args_tree)
    jaxpr, consts = trace_program(flat, in_avals)
    return jaxpr, consts, box[0]


def merge_consts(programs: Sequence[tuple[Jaxpr, list]]) -> tuple[list[Jaxpr], list]:
    """Programs that each take their own consts first, rewritten to all take the same consts
    (every program's, each value once): how the branches of one `cond` share operands."""
    all_consts: list = []
    position: dict[int, int] = {}
    for _, consts in programs:
        for c in consts:
            if id(c) not in position:
                position[id(c)] = len(all_consts)
                all_consts.append(c)
    merged = []
    for jaxpr, consts in programs:
        n = len(consts)
        own = {position[id(c)]: v for c, v in zip(consts, jaxpr.invars[:n])}
        leading = [own.get(i) or Var(core.get_aval(c)) for i, c in enumerate(all_consts)]
        merged.append(intern(Jaxpr([], leading + jaxpr.invars[n:], jaxpr.outvars, jaxpr.eqns)))
    return merged, all_consts


# ---------------------------------------------------------------- types and their errors
def typematch(a: ShapedArray, b: ShapedArray) -> bool:
    """Equal up to weak typing, which only steers promotion."""
    return a.shape == b.shape and a.dtype == b.dtype


def leaf_paths(treedef) -> list[str]:
    """A path like `[0]['w']` for every leaf of a structure, as error messages show them."""
    if tree_util.treedef_is_strict_leaf(treedef):
        return [""]
    node_type, aux = treedef.node_data()
    paths = []
    for i, child in enumerate(tree_util.treedef_children(treedef)):
        key = repr(aux[i]) if node_type is dict else str(i)
        paths += [f"[{key}]{p}" for p in leaf_paths(child)]
    return paths


def _short_tree(treedef, avals) -> str:
    return str(tree_util.tree_unflatten(treedef, [_Short(a) for a in avals]))


class _Short:
    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return self.aval.str_short()


def check_same_outputs(what: str, tree_a, avals_a, tree_b, avals_b):
    """Branches of a cond/switch must return the same structure of the same types."""
    if tree_a != tree_b:
        raise TypeError(f"{what} must have the same pytree structure, got {tree_a} and {tree_b}.")
    if not all(map(typematch, avals_a, avals_b)):
        raise TypeError(f"{what} must have identical types, got\n{_short_tree(tree_a, avals_a)}\n"
                        f"and\n{_short_tree(tree_b, avals_b)}.")


def join_weak_types(avals_lists: Sequence[Sequence[ShapedArray]]) -> list[ShapedArray]:
    """Per position, the type all branches convert their output to: weak only if weak in all."""
    return [xs[0].update(weak_type=all(x.weak_type for x in xs)) for xs in zip(*avals_lists)]


def check_carry(what: str, fun: Callable, in_tree, in_avals, out_tree, out_avals):
    """A loop body must return its carry with the structure and types it received."""
    name = _first_param_name(fun)
    if in_tree != out_tree:
        raise TypeError(
            f"{what} function carry input and carry output must have the same pytree structure, "
            f"but they differ:\n\n  the input carry{' ' + name if name else ''} has structure "
            f"{in_tree}\n  the output carry has structure {out_tree}\n\nRevise the function so "
            "that the carry output has the same pytree structure as the carry input.")
    diffs = []
    for path, a, b in zip(leaf_paths(in_tree), in_avals, out_avals):
        if typematch(a, b):
            continue
        why = " and also ".join(w for w, bad in [("the dtypes do not match", a.dtype != b.dtype),
                                                 ("the shapes do not match", a.shape != b.shape)]
                                if bad)
        where = f"the input carry component {name}{path}" if name else (
            f"the input carry at path {path}" if path else "the input carry")
        diffs.append(f"{where} has type {a.str_short()} but the corresponding output carry "
                     f"component has type {b.str_short()}, so {why}")
    if diffs:
        listed = "\n".join(f"  * {d}" for d in diffs)
        raise TypeError(
            f"{what} function carry input and carry output must have equal types (e.g. shapes "
            f"and dtypes of arrays), but they differ:\n\n{listed}\n\nRevise the function so that "
            "all output types (e.g. shapes and dtypes) match the corresponding input types.")


def _first_param_name(fun) -> str:
    import inspect
    try:
        params = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        return ""
    return params[0] if params else ""


def promote_weak_carry(init_leaves: list, in_avals, out_avals) -> tuple[list, bool]:
    """A weakly typed initial carry (a Python scalar) takes the type the body gives it, as in
    JAX: `fori_loop(0, n, lambda i, x: x + 0.5, 0)` carries a float. Returns (leaves, changed)."""
    if len(in_avals) != len(out_avals):
        return init_leaves, False
    changed = False
    out = list(init_leaves)
    for i, (a, b) in enumerate(zip(in_avals, out_avals)):
        if a.weak_type and not typematch(a, b) and a.shape == b.shape:
            dtype, _ = dtypes.result_type((a.dtype, True), (b.dtype, b.weak_type))
            out[i] = ew.convert_element_type(out[i], dtype)
            changed = True
    return out, changed


def avals_of(values) -> list[ShapedArray]:
    return [core.get_aval(x) for x in values]


def op_results(names, n: int) -> list:
    """A lowering's `ctx.op` result names as a list, whatever the number of results."""
    return list(names) if n > 1 else ([names] if n == 1 else [])
