"""Train the MLP classifier of train_data_parallel.py on scikit-learn's digits, written the way
JAX's current SPMD examples are: jit over a device mesh with NamedSharding, no pmap.

    python examples/train_sharded.py                      # data-parallel: a ('data',) mesh of 8
    python examples/train_sharded.py --model-parallel 4   # a ('data', 'model') mesh of 2 x 4
    spmd-run -n 2 --cpu-devices 4 examples/train_sharded.py   # one mesh over 2 processes
    python examples/train_sharded.py --shard-map          # the data-parallel step per device

How it works:
- `spmd.make_mesh` lays the devices out with named axes. A batch is split over 'data' by its
  NamedSharding; the parameters are copied to every device (data-parallel) or, with
  --model-parallel, the hidden layer's units are split over 'model' (Megatron's split: the
  columns of the first weight matrix, the rows of the second), copied over 'data'.
- The train step is an ordinary function. `jit(..., in_shardings=, out_shardings=)` compiles it
  once for the whole mesh and XLA's partitioner inserts the communication: the all-reduce of the
  gradients over 'data', and the reductions the split matrix products need over 'model'. The
  mathematics are those of one device; only the layout differs.
- With --shard-map the data-parallel step is written per device instead, as pmap's is:
  `shard_map` hands each device its block of the batch, the gradients are averaged with
  `lax.pmean` over 'data', and every device applies the same update (out_specs P(): replicated).
- The parameters and optimizer state stay laid out on the mesh between steps (each step's
  results feed the next as they are); the loop never waits for a step (spmd bounds the steps
  in flight, so XLA's CPU collectives cannot pile up and deadlock).
- Across processes (spmd-run, mpiexec, Ray) the mesh holds every process's devices, and the
  program is the same: every process draws the same global batch order and passes only its own
  rows (`make_array_from_process_local_data`), holds only its devices' blocks, and reads the
  loss, which is replicated. The final parameters are gathered with `process_allgather`.
"""
import os
import sys

os.environ.setdefault("SPMD_CPU_DEVICES", "8")  # 8 CPU devices stand in for 8 accelerators
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the model of the sibling

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import spmd  # noqa: E402
import spmd.numpy as jnp  # noqa: E402
from spmd import lax, optim  # noqa: E402
from spmd.experimental import multihost_utils  # noqa: E402
from spmd.sharding import NamedSharding, PartitionSpec as P  # noqa: E402
from train_data_parallel import (LAYERS, OPTIMIZER, digits_split, init_params,  # noqa: E402
                                 loss_fn, predict)


def layouts(mesh, model_parallel: bool):
    """(parameter shardings, batch sharding) on `mesh`."""
    whole = NamedSharding(mesh, P())
    if model_parallel:
        params = [{"w": NamedSharding(mesh, P(None, "model")),
                   "b": NamedSharding(mesh, P("model"))},
                  {"w": NamedSharding(mesh, P("model", None)), "b": whole}]
    else:
        params = [{"w": whole, "b": whole} for _ in LAYERS[1:]]
    return params, NamedSharding(mesh, P("data"))


def make_steps(mesh, model_parallel: bool):
    param_layout, batch_layout = layouts(mesh, model_parallel)

    def train_step(params, opt_state, images, labels):
        loss, grads = spmd.value_and_grad(loss_fn)(params, images, labels)
        updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    def count_correct(params, images, labels):
        return jnp.sum(jnp.argmax(predict(params, images), axis=-1) == labels)

    # the optimizer state is left to the partitioner (None): it lays it out like the parameters
    step = spmd.jit(train_step, in_shardings=(param_layout, None, batch_layout, batch_layout),
                    out_shardings=(param_layout, None, NamedSharding(mesh, P())),
                    donate_argnums=(0, 1))
    correct = spmd.jit(count_correct, in_shardings=(param_layout, batch_layout, batch_layout))
    return step, correct


def make_shard_map_step(mesh):
    """The data-parallel step written per device (a block of the batch on each)."""
    def per_device(params, opt_state, images, labels):
        loss, grads = spmd.value_and_grad(loss_fn)(params, images, labels)
        grads, loss = lax.pmean((grads, loss), "data")  # what pmap's step does
        updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    step = spmd.shard_map(per_device, mesh=mesh, in_specs=(P(), P(), P("data"), P("data")),
                          out_specs=P())
    return spmd.jit(step, donate_argnums=(0, 1))


def say(text):
    if spmd.process_index() == 0:  # one copy of each line, not one per process
        print(text, flush=True)


def this_process_rows(layout, values):
    """The global batch `values` (the same in every process) as an Array laid out by `layout`,
    built from this process's consecutive share of its rows (each holds only those)."""
    share = len(values) // spmd.process_count()
    mine = values[spmd.process_index() * share:(spmd.process_index() + 1) * share]
    return spmd.make_array_from_process_local_data(layout, mine)


def train(epochs=30, batch_size=128, seed=0, model_parallel=1, shard_map=False):
    """Train; return the final test accuracy, the last epoch's mean loss, the median
    examples/second of the epochs after the first and the final parameters (NumPy)."""
    n = spmd.device_count()
    if n % model_parallel or batch_size % (n // model_parallel):
        raise SystemExit(f"--model-parallel {model_parallel} must divide the {n} devices, and "
                         f"the rest must divide --batch-size {batch_size}")
    mesh = spmd.make_mesh((n // model_parallel, model_parallel), ("data", "model"))
    step, correct = make_steps(mesh, model_parallel > 1)
    param_layout, batch_layout = layouts(mesh, model_parallel > 1)
    if shard_map:
        if model_parallel > 1:
            raise SystemExit("--shard-map writes the data-parallel step: drop --model-parallel")
        step = make_shard_map_step(mesh)
    train_set, test_set = digits_split()
    test_rows = len(test_set["label"]) // (n // model_parallel) * (n // model_parallel)
    test_images, test_labels = (this_process_rows(batch_layout, test_set[k][:test_rows])
                                for k in ("image", "label"))
    # the same initial values in every process, laid out on the mesh
    params = spmd.device_put(init_params(seed), param_layout)
    opt_state = OPTIMIZER.init(params)
    steps_per_epoch = len(train_set["label"]) // batch_size
    say(f"digits: MLP {'-'.join(map(str, LAYERS))} on a mesh {dict(mesh.shape)} of {n} "
        f"{spmd.devices()[0].platform} devices; global batch {batch_size}, {steps_per_epoch} "
        "steps an epoch")
    rng, speeds, mean_loss, accuracy = np.random.default_rng(seed), [], float("nan"), 0.0
    for epoch in range(epochs):
        order, losses, start = rng.permutation(len(train_set["label"])), [], time.perf_counter()
        for k in range(steps_per_epoch):
            rows = order[k * batch_size:(k + 1) * batch_size]
            images, labels = (this_process_rows(batch_layout, train_set[key][rows])
                              for key in ("image", "label"))
            params, opt_state, loss = step(params, opt_state, images, labels)
            losses.append(loss)
        accuracy = int(correct(params, test_images, test_labels)) / test_rows
        speeds.append(steps_per_epoch * batch_size / (time.perf_counter() - start))
        mean_loss = float(np.mean([float(x) for x in losses]))
        say(f"epoch {epoch + 1:2d}/{epochs} loss {mean_loss:.4f}  test accuracy {accuracy:6.1%}"
            f"  {speeds[-1]:9,.0f} examples/s")
    return {"accuracy": accuracy, "loss": mean_loss,
            # whole, in every process (tiled: one process's arrays get no process axis)
            "params": multihost_utils.process_allgather(params, tiled=True),
            "examples_per_second": float(np.median(speeds[1:] or speeds))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128, help="the global batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-parallel", type=int, default=1, metavar="M",
                   help="split the hidden layer over M devices (a data x model mesh)")
    p.add_argument("--shard-map", action="store_true",
                   help="write the data-parallel step per device with shard_map")
    args = p.parse_args(argv)
    # started by spmd-run, mpiexec, srun or Ray: join the job (unless a program that imported
    # this one has joined it already)
    if spmd.distributed.launched() and not spmd.distributed.is_initialized():
        spmd.distributed.initialize()
    return train(args.epochs, args.batch_size, args.seed, args.model_parallel, args.shard_map)


if __name__ == "__main__":
    main()
