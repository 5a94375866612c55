"""A one-block causal transformer trained on a synthetic token sequence for a few Adam steps,
written as a JAX user writes one without a framework: parameters from jax.nn.initializers
under split keys, embeddings by indexing, jax.nn.dot_product_attention with a causal mask,
layer norm, one_hot cross-entropy, value_and_grad with has_aux, jit with donated state, and
jax.tree.map updates."""
import functools

import spmd as jax
import spmd.numpy as jnp
from spmd import random

VOCAB, SEQ, DIM, HEADS = 11, 12, 16, 2


def init_params(key):
    keys = random.split(key, 6)
    dense = jax.nn.initializers.glorot_normal()
    return {
        "embed": jax.nn.initializers.normal(0.1)(keys[0], (VOCAB, DIM)),
        "pos": jax.nn.initializers.normal(0.1)(keys[1], (SEQ, DIM)),
        "qkv": dense(keys[2], (3, DIM, HEADS, DIM // HEADS)),
        "out": dense(keys[3], (HEADS * (DIM // HEADS), DIM)),
        "mlp": [dense(keys[4], (DIM, 4 * DIM)), dense(keys[5], (4 * DIM, DIM))],
        "norm": {"scale": jnp.ones(DIM), "bias": jnp.zeros(DIM)},
    }


def layer_norm(x, scale, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = jnp.var(x, -1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * scale + bias


def forward(params, tokens):
    x = params["embed"][tokens] + params["pos"][: tokens.shape[-1]]
    q, k, v = (jnp.einsum("btd,dhk->bthk", x, w) for w in params["qkv"])
    attended = jax.nn.dot_product_attention(q, k, v, is_causal=True)
    x = x + attended.reshape(*attended.shape[:2], -1) @ params["out"]
    h = layer_norm(x, **params["norm"])
    x = x + jax.nn.gelu(h @ params["mlp"][0]) @ params["mlp"][1]
    return x @ params["embed"].T


def loss_fn(params, tokens):
    logits = forward(params, tokens[:, :-1])
    targets = jax.nn.one_hot(tokens[:, 1:], VOCAB)
    loss = -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * targets, -1))
    accuracy = jnp.mean(jnp.argmax(logits, -1) == tokens[:, 1:])
    return loss, accuracy


@functools.partial(jax.jit, donate_argnums=(0, 1, 2))
def train_step(params, m, v, step, tokens, lr=0.01, b1=0.9, b2=0.999):
    (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, tokens)
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    t = step + 1
    params = jax.tree.map(
        lambda p, m, v: p - lr * (m / (1 - b1 ** t)) / (jnp.sqrt(v / (1 - b2 ** t)) + 1e-8),
        params, m, v)
    return params, m, v, loss, accuracy


def data(key, batch):
    """Sequences that count up modulo VOCAB from a random start: learnable in a few steps."""
    starts = random.randint(key, (batch, 1), 0, VOCAB)
    return (starts + jnp.arange(SEQ + 1)) % VOCAB


def main(num_steps=8, batch=16):
    key = random.key(42)
    init_key, data_key = random.split(key)
    params = init_params(init_key)
    initial_loss, _ = loss_fn(params, data(data_key, batch))
    m = jax.tree.map(jnp.zeros_like, params)
    v = jax.tree.map(jnp.zeros_like, params)
    losses = []
    for step in range(num_steps):
        tokens = data(random.fold_in(data_key, step), batch)
        params, m, v, loss, accuracy = train_step(params, m, v, step, tokens)
        losses.append(loss)
    print(f"initial loss {initial_loss:.5f}")
    print(f"losses {losses[0]:.5f} {losses[3]:.5f} {losses[-1]:.5f} accuracy {accuracy:.4f}")
    return {"initial_loss": initial_loss, "losses": losses, "accuracy": accuracy,
            "params": params, "init_key": init_key, "data_key": data_key}


if __name__ == "__main__":
    main()
