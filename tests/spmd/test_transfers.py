"""device_put / device_get / block_until_ready over pytrees, computation that follows its
data to a device, jit(device=...), and donated arguments used up as in JAX. The tests run with
8 CPU devices (conftest); values are checked against the NumPy inputs."""
import numpy as np
import pytest

import spmd
import spmd.numpy as jnp


def devices():
    return spmd.local_devices()


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.int32).reshape(2, 3),
                                   np.float32(1.5), np.array([True, False])])
def test_device_put_places_numpy_values_on_the_device(value):
    d = devices()[3]
    x = spmd.device_put(value, d)
    assert isinstance(x, spmd.Array) and x.devices() == {d}
    assert x.dtype == value.dtype and not x.weak_type
    np.testing.assert_array_equal(np.asarray(x), value)


def test_device_put_pytrees_scalars_and_arrays_already_there():
    d = devices()[2]
    tree = spmd.device_put({"w": np.ones(3, np.float32), "n": 2.0, "k": [7]}, d)
    assert all(leaf.devices() == {d} for leaf in spmd.tree.leaves(tree))
    assert tree["n"].weak_type and tree["n"].dtype == np.float32  # a Python float, as in JAX
    assert spmd.device_put(tree["w"], d) is tree["w"]  # already there: the same Array
    assert spmd.device_put(tree["w"]) is tree["w"]
    copy = spmd.device_put(tree["w"], d, may_alias=False)
    assert copy is not tree["w"] and copy.devices() == {d}
    moved = spmd.device_put(tree["w"], devices()[5], donate=True)
    assert moved.devices() == {devices()[5]} and tree["w"].is_deleted()
    np.testing.assert_array_equal(np.asarray(moved), np.ones(3))


def test_device_put_errors():
    with pytest.raises(ValueError, match="device_put: device='cpu' is not one of this "
                                         "process's devices"):
        spmd.device_put(np.ones(2), "cpu")
    with pytest.raises(ValueError, match="donate=True and may_alias=False cannot be combined"):
        spmd.device_put(np.ones(2), donate=True, may_alias=False)


def test_device_put_passes_tracers_through_jit_and_grad():
    f = lambda x: (spmd.device_put(x) ** 2).sum()  # noqa: E731
    x = np.arange(3, dtype=np.float32)
    assert float(spmd.jit(f)(x)) == 5.0
    np.testing.assert_allclose(np.asarray(spmd.grad(f)(x)), 2 * x)


def test_device_get_and_block_until_ready_over_pytrees():
    tree = {"a": jnp.arange(3), "b": (np.float32(2), 5, "text")}
    host = spmd.device_get(tree)
    assert type(host["a"]) is np.ndarray and host["a"].tolist() == [0, 1, 2]
    assert host["b"][1:] == (5, "text")
    assert spmd.block_until_ready(tree) is tree
    x = spmd.pmap(lambda v: v * 2)(np.arange(8, dtype=np.float32))
    np.testing.assert_array_equal(spmd.device_get(x), 2 * np.arange(8))
    assert spmd.device_put(x) is x  # a pmap result stays spread over its devices
    gathered = spmd.device_put(x, devices()[1])
    assert gathered.devices() == {devices()[1]}
    np.testing.assert_array_equal(np.asarray(gathered), 2 * np.arange(8))


def test_computation_follows_its_data():
    d = devices()[4]
    x = spmd.device_put(np.arange(3, dtype=np.float32), d)
    y = x * 2 + jnp.ones(3)  # the default device's ones join x on device 4
    assert y.devices() == {d}
    z = spmd.jit(lambda a, b: a @ b)(x, np.ones(3, np.float32))
    assert z.devices() == {d} and float(z) == 3.0
    w = spmd.device_put(np.ones(3, np.float32), devices()[5])
    with pytest.raises(ValueError, match="incompatible devices for jit of <lambda>: arguments "
                                         "live on .*3.* and on .*5.*device_put"):
        spmd.jit(lambda a, b: a + b)(spmd.device_put(np.ones(3, np.float32), devices()[3]), w)


def test_jit_device_runs_there_and_moves_its_arguments():
    f = spmd.jit(lambda a: a + 1, device=devices()[6])
    for x in (np.zeros(2, np.float32), jnp.zeros(2), spmd.device_put(np.zeros(2), devices()[1])):
        y = f(x)
        assert y.devices() == {devices()[6]}
        np.testing.assert_array_equal(np.asarray(y), np.ones(2))
    y = f(y)  # the fast path, the argument already there
    assert y.devices() == {devices()[6]} and np.asarray(y).tolist() == [2, 2]
    g = spmd.jit(lambda a: a * 3, backend="cpu")
    assert g(np.ones(1, np.float32)).devices() == {spmd.devices()[0]}


def test_jit_device_errors():
    with pytest.raises(ValueError, match="jit: device=7 is not one of this process's devices"):
        spmd.jit(lambda a: a, device=7)
    with pytest.raises(ValueError, match="can't specify both a device and a backend for jit"):
        spmd.jit(lambda a: a, device=devices()[0], backend="cpu")
    with pytest.raises(RuntimeError, match="unknown backend: 'gpu'"):
        spmd.jit(lambda a: a, backend="gpu")


@pytest.mark.parametrize("kind", ["flat", "pytree"])
def test_donated_arguments_are_used_up_even_with_a_numpy_view_alive(kind):
    f = spmd.jit(lambda p: spmd.tree.map(lambda v: v * 2, p), donate_argnums=0)
    for _ in range(3):  # first call, then the fast path
        x = jnp.arange(4.0)
        view = np.asarray(x)  # a zero-copy view: XLA cannot reuse the buffer
        out = f(x if kind == "flat" else {"x": x})
        assert x.is_deleted()
        np.testing.assert_array_equal(np.asarray(out if kind == "flat" else out["x"]),
                                      2 * np.arange(4.0))
        for use in (np.asarray, lambda v: v + 1, f):
            with pytest.raises(RuntimeError, match=r"Array has been deleted with "
                                                   r"shape=f32\[4\]"):
                use(x)
    np.testing.assert_array_equal(view, np.arange(4.0))  # the view keeps its memory


def test_delete():
    x = jnp.ones((2, 2))
    assert not x.is_deleted()
    x.delete()
    x.delete()  # twice is harmless
    assert x.is_deleted() and "deleted" in repr(x)
    with pytest.raises(RuntimeError, match=r"Array has been deleted with shape=f32\[2,2\]"):
        x.sum()
