"""jax.nn.dot_product_attention on XLA: softmax(q k^T * scale + bias, masked) v per head, with
multi-head, grouped-query and multi-query shapes. Follows JAX's numerics: logits in
float32 or wider, the softmax always in float32, masked logits set to a large negative number
(so a row with everything masked averages the values instead of giving nan)."""
from __future__ import annotations

import numpy as np

import spmd.numpy as jnp
from spmd.numpy._core import asarray_value
from spmd.nn._functions import softmax
from spmd.scipy.special import logsumexp
from spmd.transforms import core, dtypes
from spmd.transforms.stop_gradient import stop_gradient


def _ensure_4d(t):
    t = asarray_value(t)
    ndim = len(core.get_aval(t).shape)
    return jnp.reshape(t, (1,) * (4 - ndim) + core.get_aval(t).shape) if ndim < 4 else t


def _check(t, shape, dtype, name):
    """t's rank, dtype and (where not -1) sizes, in JAX's words."""
    if t is None:
        return
    aval = core.get_aval(t)
    if len(aval.shape) != len(shape):
        raise ValueError(f"{name} ndim should be {len(shape)}, but got {len(aval.shape)}")
    if dtype is not None and aval.dtype != dtype:
        raise ValueError(f"{name} dtype should be {dtype}, but got {aval.dtype}")
    if any(want not in (-1, got) for want, got in zip(shape, aval.shape)):
        raise ValueError(f"{name} shape should be {list(shape)}: but got {aval.shape}")


def _large_negative(dtype):
    # capped at float32's range: the softmax runs in float32, where -inf would give nan rows
    big = min(float(dtypes.finfo(dtype).max), float(np.finfo(np.float32).max))
    return np.asarray(-0.7 * big, dtype)


def _mask(T, S, mask, is_causal, q_seqlen, kv_seqlen, window):
    """The combined boolean mask, broadcastable to (B, N, T, S), or None when nothing masks."""
    parts = [] if mask is None else [mask]
    q_pos = jnp.arange(T)[:, None]
    k_pos = jnp.arange(S)[None, :]
    if is_causal:
        parts.append(jnp.greater_equal(q_pos, k_pos)[None, None])
    if window is not None:
        left, right = window
        parts.append(jnp.logical_and(jnp.less_equal(q_pos, k_pos + left),
                                     jnp.greater_equal(q_pos, k_pos - right))[None, None])
    if q_seqlen is not None:
        parts.append(jnp.less(q_pos[None], q_seqlen[:, None, None])[:, None])
    if kv_seqlen is not None:
        parts.append(jnp.less(k_pos[None], kv_seqlen[:, None, None])[:, None])
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = jnp.logical_and(combined, part)
    return combined


def _grouped(t, K, G):
    """A (B|1, N|1, T|1, S|1) bias or mask as (B|1, K|1, G|1, T|1, S|1), the heads split into
    key/value heads and the query heads that share each."""
    if t is None:
        return None
    b, n, tq, s = core.get_aval(t).shape
    if n == 1:
        return jnp.reshape(t, (b, 1, 1, tq, s))
    return jnp.reshape(t, (b, K, G, tq, s))


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal=False, query_seq_lengths=None, key_value_seq_lengths=None,
                          local_window_size=None, implementation=None, return_residual=False):
    """Scaled dot-product attention over (B, T, N, H) queries and (B, S, K, H) keys and values
    (the leading B may be left out). N must be a multiple of K: K == N is multi-head attention,
    K == 1 multi-query, anything between grouped-query. `bias` is added to the logits and
    `mask` (boolean, True = attend) filters them; both broadcast to (B, N, T, S). `scale`
    defaults to 1/sqrt(H). With return_residual, also returns the logsumexp of the logits,
    shape (B, T, N)."""
    if implementation not in (None, "xla"):
        if implementation == "cudnn":
            raise NotImplementedError("dot_product_attention: implementation='cudnn' needs "
                                      "cuDNN on a GPU, which spmd does not use; leave "
                                      "implementation=None (XLA)")
        raise ValueError(f"Unsupported implementation option: {implementation}")
    output_shape = core.get_aval(asarray_value(query)).shape
    q, k, v = _ensure_4d(query), _ensure_4d(key), _ensure_4d(value)
    bias = None if bias is None else _ensure_4d(bias)
    mask = None if mask is None else _ensure_4d(mask)
    q_seqlen = None if query_seq_lengths is None else asarray_value(query_seq_lengths)
    kv_seqlen = None if key_value_seq_lengths is None else asarray_value(key_value_seq_lengths)
    if isinstance(local_window_size, int):
        local_window_size = (local_window_size, local_window_size)

    B, S, K, H = core.get_aval(k).shape
    _check(v, (B, S, K, H), core.get_aval(k).dtype, "value")
    _check(q, (B, -1, -1, H), core.get_aval(k).dtype, "query")
    _check(mask, (-1,) * 4, np.dtype(bool), "mask")
    _check(bias, (-1,) * 4, None, "bias")
    _check(q_seqlen, (B,), np.dtype(np.int32), "query_seq_lengths")
    _check(kv_seqlen, (B,), np.dtype(np.int32), "key_value_seq_lengths")
    _, T, N, _ = core.get_aval(q).shape
    if N % K:
        raise ValueError(f"The number of query heads must be a multiple of key/value heads, "
                         f"but got {N} vs {K}")
    G = N // K
    scale = 1.0 / np.sqrt(H) if scale is None else scale

    dtype = core.get_aval(q).dtype
    logits_dtype = jnp.result_type(dtype, np.float32)
    grouped_q = jnp.reshape(q, (B, T, K, G, H))
    logits = jnp.einsum("btkgh,bskh->bkgts", grouped_q, k, preferred_element_type=logits_dtype)
    logits = jnp.multiply(logits, jnp.array(scale, logits_dtype))
    if bias is not None:
        logits = jnp.add(logits, _grouped(bias, K, G)).astype(logits_dtype)
    combined = _mask(T, S, mask, is_causal, q_seqlen, kv_seqlen, local_window_size)
    if combined is not None:
        logits = jnp.where(_grouped(combined, K, G), logits, _large_negative(logits_dtype))
    logits = logits.astype(np.float32)
    probs = softmax(logits, axis=-1).astype(core.get_aval(k).dtype)
    encoded = jnp.einsum("bkgts,bskh->btkgh", probs, v)
    if q_seqlen is not None:
        valid = jnp.less(jnp.arange(T)[None, :], q_seqlen[:, None])
        encoded = jnp.multiply(encoded, valid[:, :, None, None, None].astype(encoded.dtype))
    encoded = jnp.reshape(encoded, output_shape)
    if not return_residual:
        return encoded
    lse = logsumexp(logits, axis=-1).astype(core.get_aval(k).dtype)  # (B, K, G, T)
    lse = jnp.transpose(jnp.reshape(lse, (B, N, T)), (0, 2, 1))
    return encoded, stop_gradient(jnp.reshape(lse, output_shape[:-1]))
