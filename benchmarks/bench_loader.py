"""Issue 7: is the data loader ever the bottleneck? For a digits-sized dataset (1797 x 64
float32, in memory) and an ImageNet-row-sized one (224 x 224 x 3 uint8 rows, a memory-mapped
.npy), side by side: the loader alone (batches/s, examples/s; to host and onto the local
devices), the jitted MLP train step alone on a batch already on its device, and the two
together (the train loop fed by the prefetching loader)."""
from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("SPMD_CPU_DEVICES", "8")

import numpy as np  # noqa: E402

from common import report  # noqa: E402

import spmd  # noqa: E402
from spmd import numpy as snp  # noqa: E402
from spmd import optim  # noqa: E402
from spmd.transforms import lax  # noqa: E402


def _rate(loop, batches: int, warmup: int = 2) -> float:
    """Seconds per batch of `loop(n)`, which must process n batches."""
    loop(warmup)
    start = time.perf_counter()
    loop(batches)
    return (time.perf_counter() - start) / batches


def _drain(loader, n, step=None):
    """Take n batches from the loader (across epochs), waiting until each is on its devices."""
    done = 0
    while done < n:
        for batch in loader:
            out = batch if step is None else step(batch)
            for leaf in spmd.tree_util.tree_leaves(out):
                if hasattr(leaf, "block_until_ready"):
                    leaf.block_until_ready()
            done += 1
            if done == n:
                break


def make_train_step(features: int, hidden: int, classes: int, batch: int, scale: float):
    opt = optim.adam(1e-3)

    def loss(params, x, y):
        x = lax.reshape(lax.convert_element_type(x, np.float32), (batch, features))
        h = snp.tanh(lax.dot(snp.multiply(x, scale), params["w1"]))
        logits = lax.dot(h, params["w2"])
        top = lax.reshape(lax.reduce_max(logits, (1,)), (batch, 1))
        shifted = snp.subtract(logits, top)
        log_z = lax.reshape(snp.log(lax.reduce_sum(snp.exp(shifted), (1,))), (batch, 1))
        one_hot = lax.convert_element_type(snp.equal(
            lax.reshape(y, (batch, 1)), lax.broadcasted_iota(np.int32, (batch, classes), 1)),
            np.float32)
        return snp.divide(lax.reduce_sum(snp.multiply(one_hot, snp.subtract(log_z, shifted))),
                          float(batch))

    @spmd.jit
    def step(params, opt_state, x, y):
        grads = spmd.grad(loss)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(0)
    params = {"w1": (rng.standard_normal((features, hidden))
                     / np.sqrt(features)).astype(np.float32),
              "w2": (rng.standard_normal((hidden, classes)) / np.sqrt(hidden)).astype(np.float32)}
    return step, params, opt.init(params)


def run(title, data, global_batch, features, hidden, classes, scale, batches):
    devices = spmd.data.topology.local_devices()
    one = devices[:1]  # what a jitted (not pmapped) step reads from
    rows = []
    for name, kw in [("loader -> host (NumPy)", dict(to_device=False)),
                     ("loader -> 1 device", dict(devices=one)),
                     (f"loader -> {len(devices)} devices", dict(devices=devices))]:
        loader = spmd.data.ShardedLoader(data, global_batch, seed=0, prefetch=4, **kw)
        rows.append((name, _rate(lambda n, loader=loader: _drain(loader, n), batches)))
        loader.close()

    step, params, opt_state = make_train_step(features, hidden, classes, global_batch, scale)
    state = [params, opt_state]
    first = next(iter(spmd.data.ShardedLoader(data, global_batch, to_device=False, prefetch=0)))
    x, y = snp.asarray(first["x"]), snp.asarray(first["y"])  # on one device, ready

    def train_only(n):
        for _ in range(n):
            state[0], state[1] = step(state[0], state[1], x, y)
        state[0]["w1"].block_until_ready()
    rows.append(("jit train step alone", _rate(train_only, batches)))

    loader = spmd.data.ShardedLoader(data, global_batch, seed=0, prefetch=4, devices=one)

    def fed(batch):
        state[0], state[1] = step(state[0], state[1], batch["x"], batch["y"])
        return state[0]
    rows.append(("train step fed by loader", _rate(lambda n: _drain(loader, n, fed), batches)))
    loader.close()

    report(f"{title}: global batch {global_batch} (time per batch)", rows,
           "jit train step alone")
    for name, seconds in rows:
        print(f"  {name:28s} {1 / seconds:10.1f} batches/s {global_batch / seconds:12.0f} "
              "examples/s")


def main():
    rng = np.random.default_rng(0)
    digits = {"x": rng.standard_normal((1797, 64)).astype(np.float32),
              "y": rng.integers(0, 10, 1797).astype(np.int32)}
    run("digits-sized (1797 x 64 float32)", digits, 128, 64, 128, 10, 1.0, 200)

    with tempfile.TemporaryDirectory() as folder:
        n = 1024
        images = np.lib.format.open_memmap(os.path.join(folder, "x.npy"), mode="w+",
                                           dtype=np.uint8, shape=(n, 224, 224, 3))
        for start in range(0, n, 128):
            images[start:start + 128] = rng.integers(0, 256, (128, 224, 224, 3), dtype=np.uint8)
        images.flush()
        del images
        np.save(os.path.join(folder, "y.npy"), rng.integers(0, 1000, n).astype(np.int32))
        data = {"x": os.path.join(folder, "x.npy"), "y": os.path.join(folder, "y.npy")}
        run("ImageNet-row-sized (224x224x3 uint8, memory-mapped .npy)", data, 64,
            224 * 224 * 3, 64, 1000, 1 / 255, 20)


if __name__ == "__main__":
    main()
