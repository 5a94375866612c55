"""jax.debug's sharding views: `inspect_array_sharding` calls back with where each array
lives, `visualize_sharding` draws which device holds which block of an array as a text table
(JAX draws it with `rich`; spmd draws the same table in plain box-drawing characters, no
colours), `visualize_array_sharding` does both."""
from __future__ import annotations

import builtins
from typing import Callable, Sequence

from spmd.transforms import backend, core, tree_util
from spmd.transforms.mesh import get_mesh
from spmd.transforms.named_sharding import SingleDeviceSharding


def inspect_array_sharding(value, *, callback: Callable) -> None:
    """Calls `callback(sharding)` for each array of the pytree `value`: at once for Arrays;
    inside jit, when the function is traced, with the device the program runs on. Inside a
    jit over a mesh or a pmap the layout is XLA's choice at compile time, which spmd cannot
    report yet (NotImplementedError)."""
    def inspect(x):
        if not isinstance(x, core.Tracer):
            callback(x.sharding)
        elif get_mesh() is None and not core.axis_env():
            callback(SingleDeviceSharding(backend.default_device()))
        else:
            raise NotImplementedError(
                "inspect_array_sharding inside a jit over a mesh, shard_map or pmap is not "
                "implemented in spmd: XLA chooses the layout when it compiles; inspect the "
                "result's .sharding after the call instead")
    tree_util.tree_map(inspect, value)


def visualize_array_sharding(arr, **kwargs) -> None:
    """Prints the table of which device holds which block of `arr` (1-d or 2-d)."""
    inspect_array_sharding(arr, callback=lambda s: visualize_sharding(arr.shape, s, **kwargs))


def visualize_sharding(shape: Sequence[int], sharding, *, use_color: bool = True,
                       scale: float = 1., min_width: int = 9, max_width: int = 80,
                       color_map=None) -> None:
    """Prints a table of the blocks of an array of `shape` (1 or 2 dimensions) laid out by
    `sharding`, each cell naming the devices holding that block ('CPU 0,4'), sized in
    proportion to the block as JAX's is. `use_color` and `color_map` are accepted and
    ignored (plain text)."""
    shape = tuple(shape)
    if not 1 <= len(shape) <= 2:
        raise ValueError("`visualize_sharding` only works for shapes with 1 and 2 dimensions.")
    builtins.print(sharding_table(shape, sharding, scale, min_width, max_width), end="\n\n")


def sharding_table(shape, sharding, scale=1., min_width=9, max_width=80) -> str:
    kind = next(iter(sharding.device_set)).platform.upper()
    base_height = int(10 * scale)
    base_width = int(base_height * (shape[1] if len(shape) == 2 else 1) / shape[0])
    cells: dict = {}  # (row, column) -> [device ids, width, height]
    for device, index in sharding.devices_indices_map(shape).items():
        spans = [_span(s, n) for s, n in zip(index, shape)]
        if len(shape) == 1:
            spans = [(0, 1, 1)] + spans
        (row, rows, tall), (col, cols, wide) = (_chunk(*s) for s in spans)
        cell = cells.setdefault((row, col), [set(), 0, 0])
        cell[0].add(device.id)
        cell[1] = min(max(int(wide * base_width * 2.5), min_width), max_width)
        cell[2] = 1 if len(shape) == 1 else int(tall * base_height)
    n_rows = 1 + max(r for r, _ in cells)
    n_cols = 1 + max(c for _, c in cells)
    texts = {k: f"{kind} " + ",".join(str(i) for i in sorted(v[0])) for k, v in cells.items()}
    widths = [max(max(cells[r, c][1] - 2, len(texts[r, c])) for r in range(n_rows))
              for c in range(n_cols)]
    heights = [max(max(cells[r, c][2] - 1, 1) for c in range(n_cols)) for r in range(n_rows)]

    def rule(left, middle, right):
        return left + middle.join("─" * w for w in widths) + right
    lines = [rule("┌", "┬", "┐")]
    for r in range(n_rows):
        middle_line = (heights[r] - 1) // 2
        for k in range(heights[r]):
            lines.append("│" + "│".join(_centered(texts[r, c] if k == middle_line else "",
                                                   widths[c]) for c in range(n_cols)) + "│")
        lines.append(rule("├", "┼", "┤") if r < n_rows - 1 else rule("└", "┴", "┘"))
    return "\n".join(lines)


def _centered(text: str, width: int) -> str:
    left = (width - len(text)) // 2  # the odd space goes right, as rich pads
    return " " * left + text + " " * (width - len(text) - left)


def _span(index, size):
    """(start, stop, size) of one dimension's block."""
    start, stop, _ = index.indices(size) if isinstance(index, slice) else (index, index + 1, 1)
    return start, stop, size


def _chunk(start, stop, size):
    """(which block along the dimension, ..., the block's fraction of the dimension)."""
    length = stop - start
    return (start // length if length else 0), None, length / size
