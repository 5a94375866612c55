"""One process of a job whose jit programs run over a mesh of every process's devices (2
processes x 4 devices: a 1-d mesh ('batch',) and a 2-d mesh ('data', 'model'), 'data' across
the processes), checked against oracles every process computes alone: NumPy on the global
input (built by every process from the same seed) and single-device training.

    mesh_multiprocess_job.py ORACLE.npz EXAMPLE_ARGS...

Checks, in one run: make_array_from_process_local_data and process_allgather; an elementwise
op, a matmul sharded on each of its axes, a reduction over a sharded axis; laying an array
spanning processes out anew; a data-parallel training step on ('batch',) and a tensor-parallel
MLP on ('data', 'model'); the errors for fetching such an array, for a host value split between
processes, for a mesh of another process's devices, and for processes that build different
programs (both sides named); then examples/train_sharded.py's main(EXAMPLE_ARGS), whose loss,
test accuracy and final parameters must be those of one process of 8 devices (ORACLE.npz,
written by the test: `loss`, `accuracy` and the parameters in order as `param<i>`); last, the
per-call order check (issue 14): off, programs with no collective between processes run in
any order; on, two agreed programs run in a different order raise CallOrderError on both
processes, naming both sides, and so does every later call."""
import functools
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))

import numpy as np  # noqa: E402

import spmd  # noqa: E402

spmd.distributed.initialize()

import spmd.numpy as jnp  # noqa: E402
from spmd.experimental import multihost_utils  # noqa: E402
from spmd.pmap_call_order import CallOrderError  # noqa: E402
from spmd.sharding import Mesh, NamedSharding, PartitionSpec as P  # noqa: E402
from tests.oracles import assert_close  # noqa: E402

me, L = spmd.process_index(), spmd.local_device_count()
assert (spmd.process_count(), L) == (2, 4), (spmd.process_count(), L)
rng = np.random.default_rng(0)  # the same global values in every process
batch_mesh = spmd.make_mesh((8,), ("batch",))
mesh = spmd.make_mesh((2, 4), ("data", "model"))  # row i: process i's devices
gather = functools.partial(multihost_utils.process_allgather, tiled=True)  # global arrays


def expect_error(error, pattern, fn, *args):
    try:
        fn(*args)
    except error as e:
        assert re.search(pattern, str(e)), f"{pattern!r} not in {str(e)!r}"
    else:
        raise AssertionError(f"{fn} did not raise {error.__name__}")


def check_local_data_and_gather():
    X = rng.normal(size=(16, 3)).astype(np.float32)
    s = NamedSharding(batch_mesh, P("batch"))
    x = spmd.make_array_from_process_local_data(s, X[me * 8:(me + 1) * 8])
    assert x.shape == (16, 3) and not x.is_fully_addressable and x.sharding == s
    assert len(x.addressable_shards) == L
    for shard in x.addressable_shards:
        assert shard.device.process_index == me
        np.testing.assert_array_equal(np.asarray(shard.data), X[shard.index])
    np.testing.assert_array_equal(np.asarray(x.addressable_data(0)), X[me * 8:me * 8 + 2])
    np.testing.assert_array_equal(gather(x), X)
    # host values: each process's part, stacked or concatenated in process order
    np.testing.assert_array_equal(multihost_utils.process_allgather(np.float32([me, 1])),
                                  [[0, 1], [1, 1]])
    np.testing.assert_array_equal(gather(np.arange(2) + 2 * me), np.arange(4))
    # a dimension given whole (not split between processes) and an explicit global shape
    Z = rng.normal(size=(4, 8)).astype(np.float32)
    z = spmd.make_array_from_process_local_data(NamedSharding(mesh, P("data", "model")),
                                                Z[me * 2:(me + 1) * 2], (4, 8))
    np.testing.assert_array_equal(gather(z), Z)
    # the same through multihost_utils, and back to this process's part over its own devices
    g = multihost_utils.host_local_array_to_global_array(Z[me * 2:(me + 1) * 2], mesh,
                                                         P("data", "model"))
    np.testing.assert_array_equal(gather(g), Z)
    mine = multihost_utils.global_array_to_host_local_array(g, mesh, P("data", "model"))
    assert mine.is_fully_addressable and mine.sharding.mesh == mesh.local_mesh
    np.testing.assert_array_equal(np.asarray(mine), Z[me * 2:(me + 1) * 2])
    w = spmd.make_array_from_process_local_data(NamedSharding(mesh, P(None, "model")), Z)
    assert w.shape == (4, 8)  # 'model' stays within each process: its part is the whole
    np.testing.assert_array_equal(gather(w), Z)
    return X, x


def check_ops():
    A = rng.normal(size=(8, 8)).astype(np.float32)
    B = rng.normal(size=(8, 8)).astype(np.float32)
    a = spmd.device_put(A, NamedSharding(mesh, P("data", "model")))
    assert_close(gather(spmd.jit(lambda v: jnp.sin(v) * 2 + v)(a)), np.sin(A) * 2 + A)
    matmul = spmd.jit(jnp.matmul)
    for sa, sb in [(P("data", None), P()), (P(None, "model"), P("model", None)),
                   (P(), P(None, "model")), (P("data", "model"), P("model", None))]:
        out = matmul(spmd.device_put(A, NamedSharding(mesh, sa)),
                     spmd.device_put(B, NamedSharding(mesh, sb)))
        assert_close(gather(out), A @ B, rtol=1e-5, atol=1e-5)
    assert_close(gather(a * 2 + 1), A * 2 + 1)  # eager operations run over the mesh too
    assert_close(float(jnp.sum(a)), float(A.sum()), rtol=1e-5, atol=1e-5)
    local = mesh.local_mesh
    assert local.shape == {"data": 1, "model": 4} and local.devices[0, 0].process_index == me
    column_sums = spmd.jit(lambda v: jnp.sum(v, axis=0))(a)
    assert_close(gather(column_sums), A.sum(axis=0), rtol=1e-5, atol=1e-5)
    total = spmd.jit(jnp.sum, out_shardings=NamedSharding(mesh, P()))(a)
    assert_close(np.asarray(total), A.sum(), rtol=1e-5, atol=1e-5)  # replicated: readable
    moved = spmd.device_put(a, NamedSharding(mesh, P("model", "data")))
    assert moved.sharding.spec == P("model", "data")
    np.testing.assert_array_equal(gather(moved), A)
    # an argument laid out otherwise than in_shardings says is laid out anew by the devices
    tripled = spmd.jit(lambda v: v * 3, in_shardings=NamedSharding(mesh, P(None, "data")))(a)
    assert_close(gather(tripled), A * 3)
    return A, a


def loss(params, x, y):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((h @ params["w2"] - y) ** 2)


def sgd(params, x, y):
    grads = spmd.grad(loss)(params, x, y)
    return spmd.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads), loss(params, x, y)


def check_training():
    X = rng.normal(size=(16, 4)).astype(np.float32)
    Y = rng.normal(size=(16, 2)).astype(np.float32)
    init = {"w1": rng.normal(size=(4, 8)).astype(np.float32) * 0.5,
            "b1": np.zeros(8, np.float32),
            "w2": rng.normal(size=(8, 2)).astype(np.float32) * 0.5}
    expected, losses = dict(init), []
    single = spmd.jit(sgd)
    for _ in range(3):
        expected, value = single(expected, X, Y)
        losses.append(np.asarray(value))
    # data parallel on ('batch',): replicated parameters, the batch split over 8 devices
    step = spmd.jit(sgd, donate_argnums=0)
    params = spmd.device_put(init, NamedSharding(batch_mesh, P()))
    rows = NamedSharding(batch_mesh, P("batch"))
    x = spmd.make_array_from_process_local_data(rows, X[me * 8:(me + 1) * 8])
    y = spmd.make_array_from_process_local_data(rows, Y[me * 8:(me + 1) * 8])
    for i in range(3):
        params, value = step(params, x, y)
        assert_close(np.asarray(value), losses[i], rtol=1e-5, atol=1e-6)
    for k in init:
        assert_close(np.asarray(params[k]), np.asarray(expected[k]), rtol=1e-5, atol=1e-6)
    # tensor parallel on ('data', 'model'): hidden units split over 'model', rows over 'data'
    split = {"w1": P(None, "model"), "b1": P("model"), "w2": P("model", None)}
    params = {k: spmd.device_put(v, NamedSharding(mesh, split[k])) for k, v in init.items()}
    rows = NamedSharding(mesh, P("data"))
    x = spmd.make_array_from_process_local_data(rows, X[me * 8:(me + 1) * 8])
    y = spmd.make_array_from_process_local_data(rows, Y[me * 8:(me + 1) * 8])
    step = spmd.jit(sgd, out_shardings=({k: NamedSharding(mesh, s) for k, s in split.items()},
                                        NamedSharding(mesh, P())))
    for i in range(3):
        params, value = step(params, x, y)
        assert_close(np.asarray(value), losses[i], rtol=1e-5, atol=1e-6)
    assert params["w1"].sharding.spec == P(None, "model")
    for k in init:
        assert_close(gather(params[k]), np.asarray(expected[k]), rtol=1e-5, atol=1e-6)


def check_errors(x):
    expect_error(RuntimeError, r"Array f32\[16,3\] .* not possible in process \d: it spans the "
                 r"devices of processes \[0, 1\].*process_allgather", np.asarray, x)
    # as in JAX: a global array has no per-process part to stack
    expect_error(ValueError, "Gathering global non-fully-addressable arrays only supports "
                 "tiled=True", multihost_utils.process_allgather, x)
    assert repr(x) == "Array(shape=(16, 3), dtype=float32)"
    split = spmd.jit(lambda v: v * 2, in_shardings=NamedSharding(mesh, P("data")))
    expect_error(ValueError, r"argument 0 \(v\) is a host value \(f32\[8,4\]\), but the program "
                 r"over Mesh\(.data.: 2, .model.: 4\).*make_array_from_process_local_data",
                 split, np.ones((8, 4), np.float32))
    expect_error(ValueError, r"cannot move the array \(f32\[16,3\], on NamedSharding\(mesh="
                 r"Mesh\('batch': 8\).* over the same mesh; to bring it whole to this process "
                 r"use spmd.experimental.multihost_utils.process_allgather", spmd.device_put, x,
                 NamedSharding(mesh, P("data")))
    expect_error(RuntimeError, r"the array laid out on NamedSharding\(mesh=Mesh\('batch': 8\), "
                 r"spec=PartitionSpec\('batch'\)\) \(every process must pass the same value\) "
                 r"differs between processes: process \d has float32\[8\] crc32 ",
                 spmd.device_put, np.full(8, me, np.float32), NamedSharding(batch_mesh, P("batch")))
    replicated = spmd.jit(lambda v: v * 2, in_shardings=NamedSharding(mesh, P()))
    np.testing.assert_array_equal(np.asarray(replicated(np.ones(3, np.float32))), 2.0)
    theirs = Mesh(np.array([d for d in spmd.devices() if d.process_index != me]), ("i",))
    expect_error(ValueError, rf"cannot place the array on .*processes \[{1 - me}\] of the job's "
                 r"\[0, 1\]", spmd.device_put, np.ones(4), NamedSharding(theirs, P("i")))
    # processes building different programs fail on both, naming both sides
    s = NamedSharding(batch_mesh, P("batch"))
    v = spmd.make_array_from_process_local_data(s, np.ones((8 * (me + 1), 2), np.float32),
                                                (8 * (me + 1) * 2, 2))
    def double(a):
        return a * 2
    expect_error(RuntimeError, r"the jit program over a mesh differs between processes: "
                 r"process \d has double\(f32\[(16|32),2\]\).* but process \d has "
                 r"double\(f32\[(16|32),2\]\)", spmd.jit(double), v)


def check_the_example(oracle_path, args):
    """The example's own entry point, in a job it did not join itself (main() sees that)."""
    import train_sharded  # (imports scikit-learn for the digits: only this check needs it)
    oracle = np.load(oracle_path)
    got = train_sharded.main(args)
    assert abs(got["loss"] - float(oracle["loss"])) < 1e-4, (got["loss"], float(oracle["loss"]))
    assert got["accuracy"] == float(oracle["accuracy"]), (got["accuracy"], oracle["accuracy"])
    params = spmd.tree_util.tree_leaves(got["params"])
    assert len(params) == len(oracle.files) - 2, (len(params), oracle.files)
    for i, value in enumerate(params):
        # gloo adds the partial sums across processes in another order than one process does
        assert_close(value, oracle[f"param{i}"], rtol=1e-4, atol=1e-5)


def check_call_order():
    V = np.arange(16, dtype=np.float32)
    v = spmd.make_array_from_process_local_data(NamedSharding(batch_mesh, P("batch")),
                                                V[me * 8:(me + 1) * 8])
    mine_first = (lambda fs: fs) if me == 0 else (lambda fs: fs[::-1])
    # off (read when a program is built): no collective between the processes, any order
    spmd.config.update("check_call_order", False)
    try:
        def tripled(a):
            return a * 3

        def shifted(a):
            return a + 1
        unchecked = [spmd.jit(tripled), spmd.jit(shifted)]
        first_runs = [f(v) for f in unchecked]  # (the first runs agree on the programs)
        swapped = {f.__name__: f(v) for f in mine_first(unchecked)}
    finally:
        spmd.config.update("check_call_order", True)
    for got, want in [(first_runs[0], V * 3), (first_runs[1], V + 1),
                      (swapped["tripled"], V * 3), (swapped["shifted"], V + 1)]:
        np.testing.assert_array_equal(gather(got), want)

    # on: sums over both processes' devices, whose all-reduces would pair silently
    def total(a):
        return jnp.sum(a)

    def total_of_squares(a):
        return jnp.sum(a * a)
    checked = [spmd.jit(total), spmd.jit(total_of_squares)]
    for f, want in zip(checked, [V.sum(), (V * V).sum()]):
        assert_close(float(f(v)), float(want))  # in step: the second calls agree
    mine, theirs = (f.__name__ for f in mine_first(checked))
    out_of_step = (rf"jit calls out of step between processes: process {me} ran jit of {mine} "
                   rf"\(its call 2\) while another process ran jit of {theirs} \(its call 2\)\. "
                   r"Every process must run the same jitted functions .*nothing this call "
                   r"computed was returned")
    for f in mine_first(checked):  # the first raises; then every later call of the process
        expect_error(CallOrderError, out_of_step, f, v)


X, x = check_local_data_and_gather()
check_ops()
check_training()
check_errors(x)
check_the_example(sys.argv[1], sys.argv[2:])
check_call_order()  # last: after a mismatch no program over several processes may run
multihost_utils.sync_global_devices("mesh checks done")
print(f"process {me}: all mesh checks passed", flush=True)
