"""lax.dce_sink: mark a value as used, so that dead-code elimination keeps the computation that
produced it (JAX's checkify sinks its error checks this way). It returns nothing. By default
it leaves no trace in the lowered program; with `prevent_mlir_dce=True` it lowers to jaxlib's
side-effecting `dce_sink` FFI call (a no-op kernel every jaxlib platform registers), which no
compiler pass may remove."""
from __future__ import annotations

from spmd.transforms import core, tree_util
from spmd.transforms.batching import batching_rules
from spmd.transforms.core import Primitive
from spmd.transforms.jvp import jvp_rules
from spmd.transforms.lowering import lowering_rules

dce_sink_p = Primitive("dce_sink", multiple_results=True)
dce_sink_p.has_effects = True  # its whole point: staged programs keep it (and what it uses)
dce_sink_p.def_abstract_eval(lambda x, *, prevent_mlir_dce: [])
# eagerly the value has been computed already: there is nothing to keep alive
core.impl_rules[dce_sink_p] = lambda x, *, prevent_mlir_dce: []


def _lower(ctx, x, *, prevent_mlir_dce):
    if prevent_mlir_dce:
        ctx.op("stablehlo.custom_call", [x], out_avals=[],
               attrs='call_target_name = "dce_sink", has_side_effect = true, '
                     'api_version = 4 : i32, backend_config = {}')
    return []


lowering_rules[dce_sink_p] = _lower


def _jvp(primals, tangents, *, prevent_mlir_dce):
    dce_sink_p.bind(*primals, prevent_mlir_dce=prevent_mlir_dce)
    return [], []


jvp_rules[dce_sink_p] = _jvp
batching_rules[dce_sink_p] = lambda axis, args, dims, *, prevent_mlir_dce: (
    dce_sink_p.bind(*args, prevent_mlir_dce=prevent_mlir_dce), [])


def dce_sink(val, *, prevent_mlir_dce: bool = False) -> None:
    """Keep every leaf of the pytree `val` from being eliminated as dead code."""
    for leaf in tree_util.tree_leaves(val):
        dce_sink_p.bind(leaf, prevent_mlir_dce=bool(prevent_mlir_dce))
