"""Structured control flow as primitives with sub-programs: cond/switch (`cond_p`),
while_loop/fori_loop (`while_p`), scan/map (`scan_p`), each differentiable and batchable."""
from spmd.transforms.lax.control_flow.cond import cond, cond_p, switch  # noqa: F401
from spmd.transforms.lax.control_flow.scan import map, scan, scan_p  # noqa: F401
from spmd.transforms.lax.control_flow.while_loop import fori_loop, while_loop, while_p  # noqa: F401
