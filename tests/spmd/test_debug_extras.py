"""jax.debug's log, breakpoint and sharding views, and the effect names (spmd/debug.py,
debug_breakpoint.py, debug_sharding.py)."""
import io
import logging
import sys

import numpy as np
import pytest

import spmd
import spmd.numpy as jnp
from spmd.sharding import Mesh, NamedSharding, PartitionSpec as P, SingleDeviceSharding


def test_log_writes_the_formatted_values_to_the_logger_at_the_calling_line(caplog):
    def f(x):
        spmd.debug.log("sum={s:.1f} first={}", x[0], s=x.sum())
        return x * 2
    line = f.__code__.co_firstlineno + 1
    with caplog.at_level(logging.INFO, logger="spmd.debug"):
        f(jnp.arange(3.0))
        spmd.jit(f)(jnp.arange(1.0, 4.0))
    assert [(r.getMessage(), r.levelname, r.lineno, r.pathname) for r in caplog.records] == [
        ("sum=3.0 first=0.0", "INFO", line, __file__),
        ("sum=6.0 first=1.0", "INFO", line, __file__)]
    with pytest.raises(TypeError, match="debug.log expects a format string first"):
        spmd.debug.log(3)


def _scripted_debugger(monkeypatch, commands):
    """pdb reads `commands` and writes to the returned buffer."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(commands) + "\n"))
    monkeypatch.setattr(sys, "stdout", out)
    return out


def test_breakpoint_stops_in_the_caller_eagerly_and_with_computed_values_under_jit(monkeypatch):
    def f(x):
        y = jnp.sin(x) * 10
        spmd.debug.breakpoint()
        return y + 1
    out = _scripted_debugger(monkeypatch, ["p y.tolist()", "p type(x).__name__", "c"])
    f(jnp.zeros(2))
    out2 = _scripted_debugger(monkeypatch, ["p [round(v, 3) for v in y.tolist()]",
                                          "p type(y).__name__", "c"])
    np.testing.assert_allclose(spmd.jit(f)(jnp.ones(2)), 10 * np.sin(1.0) + 1, rtol=1e-6)
    spmd.effects_barrier()
    monkeypatch.undo()
    line = f.__code__.co_firstlineno + 3  # pdb stops at the line after the breakpoint
    assert out.getvalue().startswith(f"> {__file__}({line})f()\n-> return y + 1\n")
    assert "(Pdb) [0.0, 0.0]\n(Pdb) 'Array'\n" in out.getvalue()
    assert "(Pdb) [8.415, 8.415]\n(Pdb) 'ndarray'\n" in out2.getvalue()  # 10 sin(1)
    with pytest.raises(ValueError, match="spmd's debugger is pdb, the 'cli' backend"):
        spmd.debug.breakpoint(backend="web")


MESH_2x4_TABLE = "\n".join([
    "┌───────┬───────┬───────┬───────┐",
    "│       │       │       │       │",
    "│ CPU 0 │ CPU 1 │ CPU 2 │ CPU 3 │",
    "│       │       │       │       │",
    "│       │       │       │       │",
    "├───────┼───────┼───────┼───────┤",
    "│       │       │       │       │",
    "│ CPU 4 │ CPU 5 │ CPU 6 │ CPU 7 │",
    "│       │       │       │       │",
    "│       │       │       │       │",
    "└───────┴───────┴───────┴───────┘", "", ""])


def test_visualize_sharding_draws_which_devices_hold_each_block(capsys):
    mesh = Mesh(np.array(spmd.devices()).reshape(2, 4), ("a", "b"))
    spmd.debug.visualize_sharding((8, 8), NamedSharding(mesh, P("a", "b")))
    assert capsys.readouterr().out == MESH_2x4_TABLE
    spmd.debug.visualize_sharding((8,), NamedSharding(mesh, P("b")))  # replicated along 'a'
    assert capsys.readouterr().out == ("┌───────┬───────┬───────┬───────┐\n"
                                       "│CPU 0,4│CPU 1,5│CPU 2,6│CPU 3,7│\n"
                                       "└───────┴───────┴───────┴───────┘\n\n")
    spmd.debug.visualize_sharding((4, 8), SingleDeviceSharding(spmd.devices()[0]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 12 and lines[5] == "│" + " " * 21 + "CPU 0" + " " * 22 + "│"
    assert lines[0] == "┌" + "─" * 48 + "┐" and lines[-2:] == ["└" + "─" * 48 + "┘", ""]
    with pytest.raises(ValueError, match="only works for shapes with 1 and 2 dimensions"):
        spmd.debug.visualize_sharding((2, 2, 2), SingleDeviceSharding(spmd.devices()[0]))


def test_inspect_and_visualize_array_sharding(capsys):
    mesh = Mesh(np.array(spmd.devices()).reshape(2, 4), ("a", "b"))
    x = spmd.device_put(jnp.arange(64.0).reshape(8, 8), NamedSharding(mesh, P("a", "b")))
    spmd.debug.visualize_array_sharding(x)
    assert capsys.readouterr().out == MESH_2x4_TABLE
    seen = []
    spmd.debug.inspect_array_sharding({"x": x, "y": jnp.ones(2)}, callback=seen.append)
    assert seen == [x.sharding, SingleDeviceSharding(spmd.devices()[0])]
    seen.clear()
    spmd.jit(lambda v: spmd.debug.inspect_array_sharding(v, callback=seen.append) or v)(
        jnp.ones(3))
    assert seen == [SingleDeviceSharding(spmd.devices()[0])]
    with pytest.raises(NotImplementedError, match="inside a jit over a mesh, shard_map or pmap"):
        spmd.pmap(lambda v: spmd.debug.inspect_array_sharding(v, callback=print) or v)(
            jnp.ones((2, 1)))


def test_debug_effect_names():
    assert str(spmd.debug.DebugEffect()) == "Debug"
    assert str(spmd.debug.OrderedDebugEffect()) == "OrderedDebug"
    assert set(spmd.debug.__all__) == {
        "callback", "print", "log", "DebugEffect", "OrderedDebugEffect",
        "visualize_array_sharding", "inspect_array_sharding", "visualize_sharding",
        "breakpoint"}
