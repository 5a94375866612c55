"""spmd.data: sharded, deterministic, prefetching data loading for data-parallel training.

    loader = spmd.data.ShardedLoader({"x": x, "y": y}, global_batch_size=256, seed=0)
    for epoch in range(loader.epoch, num_epochs):
        for batch in loader:        # batch["x"]: [local devices, per-device batch, ...]
            state = train_step(state, batch)

Each process reads only its own rows of every global batch, in an order that is a function of
(seed, epoch): no communication. `loader.state_dict()` / `load_state_dict()` resume mid-epoch.
`replicate` / `unreplicate` move parameters onto every local device and one replica back."""
from spmd.data.loader import ShardedLoader  # noqa: F401
from spmd.data.placement import put_stacked, replicate, unreplicate  # noqa: F401
