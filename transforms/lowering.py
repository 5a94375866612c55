"""Lowering: a program of the IR becomes StableHLO text, one module with one public `main`.

Each primitive's lowering rule writes its operations through a `LoweringContext`, in MLIR's
generic syntax, which is uniform for every op (`%3 = "stablehlo.add"(%1, %2) : (...) -> ...`).
Text needs none of jaxlib's MLIR bindings; the backend parses it when it compiles.
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np

from spmd.transforms import core, dtypes
from spmd.transforms.core import Jaxpr, Literal, ShapedArray
from spmd.transforms.named_sharding import sdy_mesh

# lowering_rules[prim](ctx, *operands, **params) -> result name, or list of names
lowering_rules: dict[core.Primitive, Callable] = {}

_ELEMENT = {np.dtype(k): v for k, v in [
    (np.bool_, "i1"), (np.int8, "i8"), (np.int16, "i16"), (np.int32, "i32"), (np.int64, "i64"),
    (np.uint8, "ui8"), (np.uint16, "ui16"), (np.uint32, "ui32"), (np.uint64, "ui64"),
    (np.float16, "f16"), (np.float32, "f32"), (np.float64, "f64"),
    (np.complex64, "complex<f32>"), (np.complex128, "complex<f64>")]}
_ELEMENT[dtypes.bfloat16] = "bf16"
# float0 (the tangent type of integers) holds no data; XLA carries it as bool zeros, as in JAX
_ELEMENT[dtypes.float0] = "i1"


def element_type(dtype) -> str:
    try:
        return _ELEMENT[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"dtype {dtype} cannot be lowered to XLA") from None


def tensor_type(aval: ShapedArray) -> str:
    dims = "".join(f"{d}x" for d in aval.shape)
    return f"tensor<{dims}{element_type(aval.dtype)}>"


def dense(value: np.ndarray, aval: ShapedArray) -> str:
    """A `dense<...>` attribute with the exact bits of `value` (hex, little-endian)."""
    if aval.dtype == dtypes.float0:
        value, aval = np.zeros(aval.shape, np.bool_), aval.update(dtype=np.bool_)
    value = np.asarray(value, dtype=aval.dtype)
    if aval.dtype == np.bool_:
        flat = value.reshape(-1)
        if flat.size and (flat == flat[0]).all():
            return f"dense<{'true' if flat[0] else 'false'}> : {tensor_type(aval)}"
        return f'dense<"0x{flat.astype(np.uint8).tobytes().hex().upper()}"> : {tensor_type(aval)}'
    flat = value.reshape(-1)
    if (flat.size > 1 and (flat == flat[0]).all()
            and not np.isnan(flat[0:1].astype(np.complex128)).any()):
        flat = flat[:1]  # a splat
    data = np.ascontiguousarray(flat).view(np.uint8).tobytes().hex().upper()
    return f'dense<"0x{data}"> : {tensor_type(aval)}'


def i64_array(values: Sequence[int]) -> str:
    values = list(values)
    return f"array<i64: {', '.join(map(str, values))}>" if values else "array<i64>"


class ModuleContext:
    """State of one module being written: fresh names, the axis environment of pmap, and the
    host callbacks the program calls (their index in `host_callbacks` names them)."""

    def __init__(self, axis_context=None, host_callbacks=None):
        self.counter = itertools.count()
        self.axis_context = axis_context  # set by pmap: named axes -> replica groups
        self.host_callbacks = host_callbacks if host_callbacks is not None else []
        # The token (a ui8 scalar, ORDER_TOKEN) that the last ordered host callback returned:
        # the next one takes it as an operand, so XLA (which may run independent ops
        # concurrently) runs them in program order, the same order in every process. Loops and
        # branches carry it through their regions when `chains_control_flow` (OrderedChain).
        self.ordered_token: str | None = None
        self.chains_control_flow = bool(getattr(axis_context, "orders_host_callbacks", False))
        self.mesh = None  # set for a program partitioned over a mesh (jit over a mesh)

    def fresh(self) -> str:
        return f"%v{next(self.counter)}"


class LoweringContext:
    """Where one equation's rule writes. `in_avals` and `out_avals` type its operands and
    results."""

    def __init__(self, module: ModuleContext, lines: list[str], indent: str,
                 in_avals=(), out_avals=(), nested: bool = False, scope: str = "",
                 chained: bool | None = None):
        self.module, self.lines, self.indent = module, lines, indent
        # the equation's named_scope: a location on its ops, which XLA keeps as op_name metadata
        quoted = scope.replace("\\", "\\\\").replace('"', '\\"')
        self.location = f' loc("{quoted}")' if scope else ""
        self.in_avals, self.out_avals = list(in_avals), list(out_avals)
        self.nested = nested  # inside a region (a loop body, a branch): runs 0 or many times
        # where ordered host callbacks may be written: the top-level block, or a region that
        # carries the module's ordered token (OrderedChain)
        self.chained = (not nested) if chained is None else chained

    def op(self, name: str, operands: Sequence[str], out_avals: Sequence[ShapedArray] | None = None,
           attrs: str = "", regions: Sequence[str] = (), operand_avals=None):
        """Write `results = "name"(operands) (regions) {attrs} : (types) -> types`."""
        out_avals = list(self.out_avals if out_avals is None else out_avals)
        operand_avals = self.in_avals if operand_avals is None else operand_avals
        in_types = ", ".join(tensor_type(a) for a in operand_avals)
        out_types = ", ".join(tensor_type(a) for a in out_avals)
        result = self.module.fresh()
        lhs = f"{result}:{len(out_avals)} = " if len(out_avals) > 1 else (
            f"{result} = " if out_avals else "")
        region_text = f"({', '.join(regions)}) " if regions else ""
        attr_text = f"{{{attrs}}} " if attrs else ""
        self.lines.append(f'{self.indent}{lhs}"{name}"({", ".join(operands)}) {region_text}'
                          f'{attr_text}: ({in_types}) -> ({out_types}){self.location}')
        if len(out_avals) > 1:
            return [f"{result}#{i}" for i in range(len(out_avals))]
        return result

    def typed(self, name, operands, operand_avals, out_aval, attrs="", regions=()):
        """One-result op with explicit operand and result types (for helper ops inside rules)."""
        return self.op(name, operands, [out_aval], attrs, regions, operand_avals=operand_avals)

    def constant(self, value, aval: ShapedArray) -> str:
        return self.op("stablehlo.constant", [], [aval], f"value = {dense(value, aval)}",
                       operand_avals=[])

    def region(self, arg_avals: Sequence[ShapedArray],
               body: Callable[["LoweringContext", list], list],
               result_avals: Sequence[ShapedArray], chained: bool = False) -> str:
        """A region `{ ^bb0(args): ... stablehlo.return }` whose body `body(ctx, args)` writes
        (`chained`: it carries the ordered token, see OrderedChain)."""
        args = [f"%r{next(self.module.counter)}" for _ in arg_avals]
        header = ", ".join(f"{a}: {tensor_type(av)}" for a, av in zip(args, arg_avals))
        inner: list[str] = []
        sub = LoweringContext(self.module, inner, self.indent + "    ", nested=True,
                              chained=chained)
        results = body(sub, args)
        types = ", ".join(tensor_type(a) for a in result_avals)
        inner.append(f'{self.indent}    "stablehlo.return"({", ".join(results)}) : ({types}) -> ()')
        return "{\n" + f"{self.indent}  ^bb0({header}):\n" + "\n".join(inner) + f"\n{self.indent}}}"

    def jaxpr_region(self, jaxpr: Jaxpr, consts: Sequence[str] = ()) -> str:
        """A region that runs `jaxpr` on its block arguments."""
        def body(sub, args):
            return lower_jaxpr(sub, jaxpr, list(consts), args)
        return self.region(jaxpr.in_avals, body, jaxpr.out_avals)

    def scalar_reducer(self, dtype, op_name: str, count: int = 1) -> str:
        """A reduction region combining `count` pairs of scalars with `op_name`."""
        scalar = ShapedArray((), dtype)

        def body(sub, args):
            return [sub.typed(op_name, [args[i], args[count + i]], [scalar, scalar], scalar)
                    for i in range(count)]
        return self.region([scalar] * (2 * count), body, [scalar] * count)


ORDER_TOKEN = ShapedArray((), np.dtype(np.uint8))  # see ModuleContext.ordered_token


class OrderedChain:
    """The module's ordered token carried through one loop or branch op, so that host callbacks
    inside its regions stay in the chain: after those before the op, before those after it
    (pmap's collectives between processes over MPI need one call order in every process; a
    loop body's callbacks run a data-dependent number of times, but in the same order in
    every process). A loop carries the token as its last state element; a branch reads it
    from the enclosing block and returns it last. Carried only where the module chains
    through control flow and one of the op's sub-programs binds a collective (`carried`)."""

    def __init__(self, ctx: "LoweringContext", programs: Sequence[Jaxpr]):
        module = ctx.module
        self.module, self.advanced = module, False
        self.carried = (module.chains_control_flow and ctx.chained and any(
            prim.collective for program in programs for prim in core.primitives_in(program)))
        # the token on entry (a zero before the chain's first callback: the one that carries
        # pmap's call-order check must stay in the top-level block, see mpi_all_reduce.py)
        self.entry = None if not self.carried else module.ordered_token or ctx.constant(
            np.zeros((), np.uint8), ORDER_TOKEN)

    def lower(self, token: str, lower: Callable[[], list]) -> list:
        """`lower()` (writing one region's body) with the chain at `token`; returns its
        results and, last, the chain's token at its end."""
        module = self.module
        saved, module.ordered_token = module.ordered_token, token
        try:
            results = list(lower())
            self.advanced |= module.ordered_token != token
            return results + [module.ordered_token]
        finally:
            module.ordered_token = saved

    def after(self, token: str) -> None:
        """The op's token result `token` goes on in the enclosing block (once a callback ran
        inside: else the chain is as it was, perhaps not yet started)."""
        if self.advanced:
            self.module.ordered_token = token


def lower_jaxpr(ctx: LoweringContext, jaxpr: Jaxpr, consts: Sequence[str], args: Sequence[str]
                ) -> list[str]:
    """Write `jaxpr`'s equations into ctx's block; returns the names of its results."""
    env: dict[int, str] = {}

    def read(v):
        if isinstance(v, Literal):
            return ctx_for([], []).constant(np.asarray(v.val), v.aval.strip_weak())
        return env[id(v)]

    def ctx_for(in_avals, out_avals, scope=""):
        return LoweringContext(ctx.module, ctx.lines, ctx.indent, in_avals, out_avals,
                               ctx.nested, scope, ctx.chained)

    env.update((id(v), c) for v, c in zip(jaxpr.constvars, consts))
    env.update((id(v), a) for v, a in zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        rule = core.rule_for(lowering_rules, eqn.prim, "lowering (XLA compilation)")
        operands = [read(v) for v in eqn.invars]
        sub = ctx_for([v.aval for v in eqn.invars], [v.aval for v in eqn.outvars],
                      eqn.scope and f"{eqn.scope}/{eqn.prim.name}")
        out = rule(sub, *operands, **eqn.params)
        out = list(out) if eqn.prim.multiple_results else [out]
        env.update((id(v), o) for v, o in zip(eqn.outvars, out))
    return [read(v) for v in jaxpr.outvars]


def lower_module(jaxpr: Jaxpr, consts_avals: Sequence[ShapedArray] = (), name: str = "main",
                 num_replicas: int = 1, donated: Sequence[bool] = (), axis_context=None,
                 host_callbacks=None, mesh=None, in_shardings: Sequence = (),
                 out_shardings: Sequence = ()) -> str:
    """A whole module: `main` takes the consts then the args of `jaxpr` and returns its outputs.
    A donated argument is aliased to the first not yet aliased output of its type. With a
    `mesh`, the module is one program for XLA's partitioner: `in_shardings`/`out_shardings`
    give each argument/result's Shardy attribute text (None: left to the partitioner)."""
    module = ModuleContext(axis_context, host_callbacks)
    module.mesh = mesh
    in_avals = list(consts_avals) + jaxpr.in_avals
    out_avals = jaxpr.out_avals
    args = [f"%arg{i}" for i in range(len(in_avals))]
    donated = [False] * len(consts_avals) + list(donated)
    # over a mesh an input and an output share a buffer only when laid out alike; another
    # donated input is offered to XLA, which reuses it where its per-device size fits
    same_layout = (None if mesh is None else lambda i, j: (
        out_shardings[j] is not None and in_shardings[i] == out_shardings[j]))
    aliases = _donation_aliases(in_avals, out_avals, donated, same_layout)
    arg_attrs = [[] for _ in in_avals]
    for i, j in aliases.items():
        arg_attrs[i].append(f"tf.aliasing_output = {j} : i32")
    for i, d in enumerate(donated):
        if d and i not in aliases and mesh is not None:
            arg_attrs[i].append("jax.buffer_donor = true")
    for i, text in enumerate(in_shardings):
        if text is not None:
            arg_attrs[i].append(f"sdy.sharding = {text}")
    params = ", ".join(f"{a}: {tensor_type(av)}" + (f" {{{', '.join(attrs)}}}" if attrs else "")
                       for a, av, attrs in zip(args, in_avals, arg_attrs))
    lines: list[str] = []
    ctx = LoweringContext(module, lines, "    ")
    nconst = len(consts_avals)
    outs = lower_jaxpr(ctx, jaxpr, args[:nconst], args[nconst:])
    out_types = ", ".join(tensor_type(a) for a in out_avals)
    lines.append(f'    "func.return"({", ".join(outs)}) : ({out_types}) -> ()')
    results = out_types
    if any(t is not None for t in out_shardings):
        results = ", ".join(tensor_type(a) + ("" if t is None else f" {{sdy.sharding = {t}}}")
                            for a, t in zip(out_avals, out_shardings))
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "main"
    partitions = 1 if mesh is None else mesh.size
    declaration = "" if mesh is None else f"  {sdy_mesh(mesh)}\n"
    return (f"module @{safe} attributes {{mhlo.num_replicas = {num_replicas} : i32, "
            f"mhlo.num_partitions = {partitions} : i32}} {{\n{declaration}"
            f"  func.func public @main({params}) -> ({results}) {{\n"
            + "\n".join(lines) + "\n  }\n}\n")


def _donation_aliases(in_avals, out_avals, donated, compatible=None) -> dict[int, int]:
    aliases, taken = {}, set()
    for i, (aval, d) in enumerate(zip(in_avals, donated)):
        if not d:
            continue
        for j, out in enumerate(out_avals):
            if (j not in taken and out.shape == aval.shape and out.dtype == aval.dtype
                    and (compatible is None or compatible(i, j))):
                aliases[i] = j
                taken.add(j)
                break
    return aliases
