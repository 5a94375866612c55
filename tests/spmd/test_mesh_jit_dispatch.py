"""Repeat calls of jit over a mesh take the fast path (transforms/jit.py `_fast_mesh_call`)
with arrays already laid out as the program takes them and with NumPy host batches, as a
training loop makes them: the results equal NumPy's call after call, whatever the batch."""
import importlib

import numpy as np

import spmd
import spmd.numpy as jnp
from spmd.sharding import NamedSharding, PartitionSpec as P
from tests.oracles import assert_close

jit_module = importlib.import_module("spmd.transforms.jit")  # the module, not the function

MESH = spmd.make_mesh((4, 2), ("data", "model"))


def test_repeat_calls_with_host_batches_place_each_new_batch(monkeypatch):
    fast_calls = []
    run = jit_module._FastMeshCall.run
    monkeypatch.setattr(jit_module._FastMeshCall, "run",
                        lambda self, *a: fast_calls.append(1) or run(self, *a))
    whole, rows = NamedSharding(MESH, P()), NamedSharding(MESH, P("data", "model"))

    def step(params, x, labels):
        new = {"w": params["w"] - 0.5 * jnp.mean(x, axis=0), "n": params["n"] + 1}
        return new, jnp.sum(x * labels[:, None])
    f = spmd.jit(step, in_shardings=(whole, rows, NamedSharding(MESH, P("data"))),
                 out_shardings=(whole, whole), donate_argnums=0)
    rng = np.random.default_rng(0)
    params = {"w": np.zeros(6, np.float32), "n": np.zeros((), np.int32)}
    w = params["w"]
    for k in range(4):
        x = rng.standard_normal((8, 6)).astype(np.float32)
        labels = rng.integers(0, 3, 8).astype(np.int32)
        before = params
        params, total = f(params, x, labels)
        w = w - 0.5 * x.mean(0)
        assert_close(params["w"], w, rtol=1e-5, atol=1e-6)
        assert_close(total, np.float32((x * labels[:, None]).sum()), rtol=1e-5, atol=1e-5)
        if k:  # donated device arrays are used up; the host batch is left as it was
            assert before["w"].is_deleted()
    # call 1 (host parameters) and 2 (device ones: a new key) take the general path
    assert int(params["n"]) == 4 and len(fast_calls) == 2
    assert params["w"].sharding == whole
    # another host dtype is another program type: converted, not mixed up with the first
    params, total = f(params, x.astype(np.float64), labels.astype(np.int64))
    assert_close(params["w"], w - 0.5 * x.mean(0), rtol=1e-5, atol=1e-6)
    assert_close(total, np.float32((x * labels[:, None]).sum()), rtol=1e-5, atol=1e-5)
