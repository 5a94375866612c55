"""Train an MLP classifier on scikit-learn's digits, data-parallel over every device of the job.

One script, any launcher:

    python examples/train_data_parallel.py                    # one process, 8 CPU devices
    spmd-run -n 2 --cpu-devices 4 examples/train_data_parallel.py        # 2 processes x 4
    spmd-run --mpi -n 2 --cpu-devices 4 examples/train_data_parallel.py  # the same, by mpiexec
    spmd-run --ray -n 2 --cpu-devices 4 examples/train_data_parallel.py  # the same, on Ray
    python examples/train_data_parallel.py --max-steps 100    # stop early (a checkpoint is saved)
    python examples/train_data_parallel.py --resume           # ... and carry on from it

How it works:
- Started by a launcher (spmd-run, mpiexec, srun, Ray), the script joins the job with
  `spmd.distributed.initialize()`; started alone, it has nothing to join.
- Every device holds a copy of the parameters and takes its slice of each global batch. The
  train step is one compiled program replicated over all devices of all processes (spmd.pmap):
  each device computes the gradient of its slice, `lax.pmean` averages the gradients across the
  devices inside that program, and every device applies the same optimizer update, so the
  copies never drift apart.
- `spmd.data.ShardedLoader` gives each process only its own rows of every global batch, in an
  order fixed by (seed, epoch), split over its devices and prefetched onto them in the
  background. The global batch, not the device count, fixes the order, so 1 process x 8
  devices and 2 processes x 4 devices train on the same batches and end with the same model.
- Initial parameters come from `spmd.random` with one seed: every process draws the same ones.
- Checkpoints (`spmd.checkpoints`: parameters, optimizer state and loader position) every
  --checkpoint-every steps and at the end; `--resume` restores all three, so an interrupted run
  ends exactly where an uninterrupted one does. Process 0 writes them to --checkpoint-dir on its
  own host's disk, and at --resume reads them there and sends them to the other processes, so
  across several hosts only process 0's host needs the directory (resuming with process 0 on
  another host: copy the directory there first). With --checkpoint-shared the directory is on a
  file system every host sees, and every process reads it itself.
- The loop never waits for a step to finish (only the evaluation at the end of an epoch and a
  checkpoint fetch results): spmd bounds the steps in flight, so XLA's CPU collectives cannot
  pile up and deadlock.
"""
import os

os.environ.setdefault("SPMD_CPU_DEVICES", "8")  # 8 CPU devices stand in for 8 accelerators

import argparse  # noqa: E402
import functools  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import spmd  # noqa: E402
import spmd.numpy as jnp  # noqa: E402
from spmd import checkpoints, lax, optim  # noqa: E402
from spmd.data import ShardedLoader, replicate, unreplicate  # noqa: E402

AXIS = "batch"  # the name of the mapped axis: every device of the job
LAYERS = [64, 128, 10]  # 8x8 images in, 10 classes out
TEST_SIZE = 360
OPTIMIZER = optim.adam(2e-3)
DEFAULT_CHECKPOINTS = os.path.join(tempfile.gettempdir(), "spmd-digits-checkpoints")


# ---------------------------------------------------------------------------- the model
def init_params(seed):
    """He-initialized layers, drawn from one seed: every process gets the same values."""
    keys = spmd.random.split(spmd.random.PRNGKey(seed), len(LAYERS) - 1)
    return [{"w": np.asarray(spmd.random.normal(k, (m, n))) * np.float32(np.sqrt(2.0 / m)),
             "b": np.zeros(n, np.float32)}
            for k, m, n in zip(keys, LAYERS[:-1], LAYERS[1:])]


def predict(params, images):
    x = images
    for layer in params[:-1]:
        x = spmd.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, images, labels):
    log_probs = spmd.nn.log_softmax(predict(params, images))
    return -jnp.mean(jnp.sum(spmd.nn.one_hot(labels, 10) * log_probs, axis=-1))


# ---------------------------------------------------------------------------- pmapped steps
@functools.partial(spmd.pmap, axis_name=AXIS, donate_argnums=(0, 1))
def train_step(params, opt_state, batch):
    loss, grads = spmd.value_and_grad(loss_fn)(params, batch["image"], batch["label"])
    grads = lax.pmean(grads, AXIS)  # the gradient of the whole global batch, on every device
    updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, lax.pmean(loss, AXIS)


@functools.partial(spmd.pmap, axis_name=AXIS)
def count_correct(params, batch):
    """(correct, examples) over the whole test set; the mask leaves out padding rows."""
    right = (jnp.argmax(predict(params, batch["image"]), axis=-1) == batch["label"])
    return lax.psum(jnp.sum(right & batch["mask"]), AXIS), lax.psum(jnp.sum(batch["mask"]), AXIS)


# ---------------------------------------------------------------------------- data
def digits_split(seed=0):
    """scikit-learn's bundled digits (no download): 1437 training and 360 test images, split by
    a fixed permutation, the same in every process."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(images))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return ({"image": images[train], "label": labels[train]},
            {"image": images[test], "label": labels[test]})


def evaluate(params, test_loader):
    correct, total = 0, 0
    for batch in test_loader:
        c, n = unreplicate(count_correct(params, batch))  # every device holds the same sums
        correct, total = correct + int(c), total + int(n)
    return correct / total


# ---------------------------------------------------------------------------- checkpoints
def save(directory, step, params, opt_state, loader, shared=False, keep=3):
    """Parameters, optimizer state and loader position: one replica of each (process 0 writes)."""
    state = {"step": step, "params": unreplicate(params), "opt_state": unreplicate(opt_state),
             "loader": loader.state_dict()}
    path = checkpoints.save_checkpoint(directory, state, step=step, keep=keep, shared=shared)
    say(f"checkpoint at step {step}: {checkpoints.location(path, shared)}")
    return path


def start_over(directory):
    """A fresh run removes an earlier run's checkpoints, so that --resume never mixes runs."""
    old = checkpoints.latest_checkpoint(directory) if os.path.isdir(directory) else None
    if old is not None and spmd.process_index() == 0:
        for name in os.listdir(directory):
            if name.startswith(checkpoints.PREFIX):
                os.remove(os.path.join(directory, name))
        say(f"a fresh run: removed the checkpoints of an earlier run from {directory} (run "
            "with --resume to continue from them instead)")


def say(text):
    if spmd.process_index() == 0:  # one copy of each line, not one per process
        print(text, flush=True)


def progress_bar(done, total, width=20):
    filled = int(width * done / total)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


# ---------------------------------------------------------------------------- training
def train(epochs=30, batch_size=128, seed=0, checkpoint_dir=DEFAULT_CHECKPOINTS,
          checkpoint_every=100, resume=False, max_steps=None, checkpoint_shared=False):
    """Train; return a dict with the final test accuracy, the last epoch's mean loss, the median
    examples/second of the epochs after the first (which compiles), the step reached and the
    final parameters (one replica, as NumPy)."""
    train_set, test_set = digits_split()
    loader = ShardedLoader(train_set, batch_size, seed=seed)  # drops the last short batch
    n = spmd.device_count()
    test_loader = ShardedLoader(test_set, -(-TEST_SIZE // n) * n, shuffle=False,
                                last_batch="pad", prefetch=0)  # the whole test set, padded
    params = init_params(seed)
    opt_state = OPTIMIZER.init(params)
    step = 0
    if resume:
        template = {"step": 0, "params": params, "opt_state": opt_state,
                    "loader": loader.state_dict()}
        restored = checkpoints.restore_checkpoint(checkpoint_dir, target=template,
                                                  shared=checkpoint_shared)
        step, params, opt_state = restored["step"], restored["params"], restored["opt_state"]
        loader.load_state_dict(restored["loader"])
        read = checkpoints.latest_checkpoint(checkpoint_dir) or checkpoint_dir  # process 0's
        say(f"resumed at step {step} (epoch {loader.epoch + 1}, batch {loader.step + 1}) from "
            f"{checkpoints.location(read, checkpoint_shared)}")
    elif checkpoint_dir:
        start_over(checkpoint_dir)
    params, opt_state = replicate(params), replicate(opt_state)  # a copy on each local device

    processes = spmd.process_count()
    accuracy = evaluate(params, test_loader)
    say(f"digits: {len(loader.source)} training and {TEST_SIZE} test images; MLP "
        f"{'-'.join(map(str, LAYERS))} data-parallel over {n} {spmd.devices()[0].platform} "
        f"devices in {processes} process{'es' if processes > 1 else ''}; global batch "
        f"{batch_size}, {len(loader)} steps an epoch; test accuracy now {accuracy:.1%}")

    def finished():
        return max_steps is not None and step >= max_steps

    start, speeds, mean_loss = time.perf_counter(), [], float("nan")
    while loader.epoch < epochs and not finished():
        epoch, epoch_start, losses = loader.epoch, time.perf_counter(), []
        for batch in loader:  # the rest of this epoch (all of it, unless resumed mid-epoch)
            params, opt_state, loss = train_step(params, opt_state, batch)
            losses.append(loss)
            step += 1
            if checkpoint_dir and step % checkpoint_every == 0:
                save(checkpoint_dir, step, params, opt_state, loader, checkpoint_shared)
            if finished():
                break
        accuracy = evaluate(params, test_loader)  # waits for this epoch's steps
        speeds.append(len(losses) * batch_size / (time.perf_counter() - epoch_start))
        mean_loss = float(np.mean([unreplicate(x) for x in losses]))
        say(f"epoch {epoch + 1:2d}/{epochs} {progress_bar(epoch + 1, epochs)} loss {mean_loss:.4f}"
            f"  test accuracy {accuracy:6.1%}  {speeds[-1]:9,.0f} examples/s")
    loader.close()
    if checkpoint_dir and step % checkpoint_every:
        save(checkpoint_dir, step, params, opt_state, loader, checkpoint_shared)
    final = unreplicate(params)
    if processes > 1:  # a cheap check that the processes trained one model
        spmd.distributed.assert_equal(final, "the processes ended with different parameters")
    seconds = time.perf_counter() - start
    saved = f"; checkpoint in {checkpoint_dir}" if checkpoint_dir else ""
    say(f"{'stopped at' if finished() else 'trained to'} step {step} in {seconds:.1f} s; test "
        f"accuracy {accuracy:.1%}{saved}")
    return {"accuracy": accuracy, "loss": mean_loss, "step": step, "params": final,
            "examples_per_second": float(np.median(speeds[1:] or speeds or [np.nan]))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128,
                   help="the global batch: over all devices of all processes (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-dir", default=DEFAULT_CHECKPOINTS,
                   help=f"where checkpoints go (default {DEFAULT_CHECKPOINTS}); '' for none. "
                   "Process 0 writes them on its own host's disk and, at --resume, reads them "
                   "there and sends them to the other processes: only process 0's host needs "
                   "the directory (the others' --checkpoint-dir is ignored)")
    p.add_argument("--checkpoint-shared", action="store_true",
                   help="--checkpoint-dir is on a file system every host sees (NFS and the "
                   "like): each process checks that it sees every checkpoint written, and at "
                   "--resume reads it itself")
    p.add_argument("--checkpoint-every", type=int, default=100, metavar="STEPS")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --checkpoint-dir")
    p.add_argument("--max-steps", type=int, metavar="N",
                   help="stop after step N (counted from the start, across resumes)")
    args = p.parse_args(argv)
    if args.resume and not args.checkpoint_dir:
        p.error("--resume needs a --checkpoint-dir")
    if spmd.distributed.launched():  # started by spmd-run, mpiexec, srun or Ray: join the job
        spmd.distributed.initialize()
    return train(args.epochs, args.batch_size, args.seed, args.checkpoint_dir,
                 args.checkpoint_every, args.resume, args.max_steps, args.checkpoint_shared)


if __name__ == "__main__":
    main()
