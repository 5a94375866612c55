"""The rest of jax.nn (identity, tanh, squareplus, sparse_plus, sparse_sigmoid, mish, glu,
log1mexp, logmeanexp, softmax/log_softmax with `where`, dot_product_attention) against NumPy
formulas, their gradients against finite differences, and their errors."""
import numpy as np
import pytest

import spmd
from spmd import nn
from spmd.transforms import dtypes
from tests.oracles import assert_close, check_grads

RNG = np.random.default_rng(3)
X = RNG.uniform(-3, 3, (3, 4)).astype(np.float32)
POS = RNG.uniform(0.05, 4, (3, 4)).astype(np.float32)
WHERE = np.array([[True, False, True, True], [False, True, True, False],
                  [True, True, True, True]])


def np_softplus(x):
    return np.logaddexp(x, 0)


def np_softmax(x, where, axis=-1):
    e = np.where(where, np.exp(x - np.max(np.where(where, x, -np.inf), axis, keepdims=True)), 0)
    return e / e.sum(axis, keepdims=True)


# name -> (spmd function, NumPy formula, input)
FUNCTIONS = {
    "identity": (nn.identity, lambda x: x, X),
    "tanh": (nn.tanh, np.tanh, X),
    "squareplus": (nn.squareplus, lambda x: (x + np.sqrt(x * x + 4)) / 2, X),
    "squareplus b": (lambda x: nn.squareplus(x, 0.5), lambda x: (x + np.sqrt(x * x + .5)) / 2, X),
    "sparse_plus": (nn.sparse_plus, lambda x: np.where(
        x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)), X),
    "sparse_sigmoid": (nn.sparse_sigmoid, lambda x: np.clip((x + 1) / 2, 0, 1), X),
    "mish": (nn.mish, lambda x: x * np.tanh(np_softplus(x)), X),
    "glu": (nn.glu, lambda x: x[:, :2] / (1 + np.exp(-x[:, 2:])), X),
    "glu axis 0": (lambda x: nn.glu(x[:2], axis=0), lambda x: x[:1] / (1 + np.exp(-x[1:2])), X),
    "log1mexp": (nn.log1mexp, lambda x: np.log(1 - np.exp(-x)), POS),
    "logmeanexp": (nn.logmeanexp, lambda x: np.log(np.mean(np.exp(x))), X),
    "logmeanexp axis keepdims": (lambda x: nn.logmeanexp(x, axis=1, keepdims=True),
                                 lambda x: np.log(np.mean(np.exp(x), 1, keepdims=True)), X),
    "logmeanexp where": (lambda x: nn.logmeanexp(x, axis=1, where=WHERE), lambda x: np.log(
        np.sum(np.exp(x) * WHERE, 1) / WHERE.sum(1)), X),
    "softmax where": (lambda x: nn.softmax(x, where=WHERE), lambda x: np_softmax(x, WHERE), X),
    "softmax where axis 0": (lambda x: nn.softmax(x, axis=0, where=WHERE),
                             lambda x: np_softmax(x, WHERE, 0), X),
    "log_softmax where": (lambda x: nn.log_softmax(x, where=WHERE),
                          lambda x: np.where(WHERE, np.log(np_softmax(x, WHERE)), -np.inf), X),
    "softmax where broadcast": (lambda x: nn.softmax(x, where=WHERE[2:]),
                                lambda x: np_softmax(x, np.ones_like(WHERE)), X),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_matches_numpy(name):
    fn, ref, x = FUNCTIONS[name]
    with np.errstate(divide="ignore"):
        want = ref(x.astype(np.float64)).astype(np.float32)
    assert_close(spmd.jit(fn)(x), want, rtol=2e-6, atol=2e-6)


SECOND_ORDER = ("squareplus", "mish", "log1mexp", "softmax where")


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n != "log_softmax where"])
def test_gradients(name, x64):
    fn, _, x = FUNCTIONS[name]
    check_grads(fn, (x.astype(np.float64),), order=2 if name in SECOND_ORDER else 1)


def test_log_softmax_where_gradient_of_the_kept_entries(x64):
    check_grads(lambda x: spmd.numpy.where(WHERE, nn.log_softmax(x, where=WHERE), 0),
                (X.astype(np.float64),), order=2)
    g = spmd.grad(lambda x: nn.softmax(x, where=WHERE)[0, 0])(X)
    assert (np.asarray(g)[~WHERE] == 0).all() and np.isfinite(np.asarray(g)).all()


@pytest.mark.parametrize("dtype", [np.float16, dtypes.bfloat16])
@pytest.mark.parametrize("name", ["mish", "log1mexp", "softmax where"])
def test_half_precision_keeps_its_dtype(name, dtype):
    fn, ref, x = FUNCTIONS[name]
    out = fn(x.astype(dtype))
    assert out.dtype == dtype
    assert_close(out, ref(x.astype(dtype).astype(np.float64)).astype(dtype))


def test_integer_inputs_become_float32():
    assert nn.mish(np.arange(3)).dtype == np.float32
    assert nn.identity(np.arange(3)).dtype == np.int32


def test_log1mexp_is_accurate_at_both_ends_and_its_derivative_is_one_over_expm1(x64):
    tiny, big = np.float64(1e-12), np.float64(40.0)
    assert_close(nn.log1mexp(tiny), np.log(-np.expm1(-tiny)))  # log(1e-12), not log(0)
    assert_close(nn.log1mexp(big), np.log1p(-np.exp(-big)))  # -4.2e-18, not 0
    assert float(nn.log1mexp(big)) != 0.0
    assert_close(spmd.grad(nn.log1mexp)(np.float64(0.5)), 1 / np.expm1(0.5))


def test_errors():
    with pytest.raises(ValueError, match="glu: the size of axis -1 must be divisible by 2, got 3"):
        nn.glu(np.ones((2, 3)))
    with pytest.raises(TypeError, match="softmax: where must be a boolean mask, got dtype int32"):
        nn.softmax(X, where=np.ones(4, np.int32))
    with pytest.raises(ValueError, match=r"log_softmax: where of shape \(2,\) does not broadcast"):
        nn.log_softmax(X, where=np.ones(2, bool))


# ---------------------------------------------------------------- dot_product_attention
def np_attention(q, k, v, bias=None, mask=None, scale=None, causal=False, q_len=None,
                 kv_len=None, window=None):
    """Loops over batch and query heads; query head n reads key/value head n // (N // K)."""
    B, T, N, H = q.shape
    S, K = k.shape[1], k.shape[2]
    scale = 1 / np.sqrt(H) if scale is None else scale
    out = np.zeros(q.shape)
    lse = np.zeros((B, T, N))
    for b in range(B):
        for n in range(N):
            kv = n // (N // K)
            logits = q[b, :, n] @ k[b, :, kv].T * scale
            if bias is not None:
                logits = logits + np.broadcast_to(bias, (B, N, T, S))[b, n]
            keep = np.ones((T, S), bool)
            if mask is not None:
                keep &= np.broadcast_to(mask, (B, N, T, S))[b, n]
            t_idx, s_idx = np.arange(T)[:, None], np.arange(S)[None, :]
            if causal:
                keep &= s_idx <= t_idx
            if window is not None:
                keep &= (t_idx <= s_idx + window[0]) & (t_idx >= s_idx - window[1])
            if q_len is not None:
                keep &= t_idx < q_len[b]
            if kv_len is not None:
                keep &= s_idx < kv_len[b]
            logits = np.where(keep, logits, -0.7 * np.finfo(np.float32).max)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            lse[b, :, n] = np.log(p.sum(-1)) + logits.max(-1)
            out[b, :, n] = (p / p.sum(-1, keepdims=True)) @ v[b, :, kv]
            if q_len is not None:
                out[b, q_len[b]:, n] = 0
    return out, lse


def qkv(B=2, T=3, S=4, N=4, K=2, H=5, dtype=np.float32):
    r = np.random.default_rng(N * 10 + K)
    return tuple(r.standard_normal(s).astype(dtype) for s in
                 [(B, T, N, H), (B, S, K, H), (B, S, K, H)])


BIAS = np.random.default_rng(5).standard_normal((1, 4, 3, 4)).astype(np.float32)
MASK = np.random.default_rng(6).uniform(size=(2, 1, 3, 4)) > 0.3
ATTENTION = {
    "multi-head": ({"N": 4, "K": 4}, {}),
    "grouped-query": ({"N": 4, "K": 2}, {}),
    "multi-query": ({"N": 4, "K": 1}, {}),
    "bias, mask": ({}, {"bias": BIAS, "mask": MASK, "scale": 0.3}),
    "seq lengths, window": ({}, {"query_seq_lengths": np.array([2, 3], np.int32),
                                 "key_value_seq_lengths": np.array([4, 1], np.int32),
                                 "local_window_size": (1, 2)}),
    "everything": ({}, {"bias": BIAS, "mask": MASK, "is_causal": True, "local_window_size": 2}),
}
NP_NAMES = {"is_causal": "causal", "query_seq_lengths": "q_len",
            "key_value_seq_lengths": "kv_len", "local_window_size": "window"}


def np_kwargs(kw):
    out = {NP_NAMES.get(k, k): v for k, v in kw.items()}
    if isinstance(out.get("window"), int):
        out["window"] = (out["window"],) * 2
    return out


@pytest.mark.parametrize("case", ATTENTION)
def test_dot_product_attention_matches_numpy(case):
    shapes, kw = ATTENTION[case]
    q, k, v = qkv(**shapes)
    want, want_lse = np_attention(*(a.astype(np.float64) for a in (q, k, v)), **np_kwargs(kw))
    out, lse = spmd.jit(lambda q, k, v: nn.dot_product_attention(
        q, k, v, return_residual=True, **kw))(q, k, v)
    assert_close(out, want.astype(np.float32), rtol=1e-5, atol=1e-5)
    assert_close(lse, want_lse.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_dot_product_attention_without_batch_and_in_bfloat16():
    q, k, v = qkv(B=1)
    want = nn.dot_product_attention(q, k, v)
    assert_close(nn.dot_product_attention(q[0], k[0], v[0]), want[0])
    half = nn.dot_product_attention(*(a.astype(dtypes.bfloat16) for a in (q, k, v)))
    assert half.dtype == dtypes.bfloat16
    assert_close(half, np.asarray(want).astype(dtypes.bfloat16), rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("case", ["everything"])  # grouped-query, every mask
def test_dot_product_attention_gradients(case, x64):
    shapes, kw = ATTENTION[case]
    args = tuple(a.astype(np.float64) for a in qkv(**shapes))
    # JAX takes the softmax in float32 whatever the inputs: differences need a wide step
    check_grads(lambda q, k, v: nn.dot_product_attention(q, k, v, **kw), args, order=1,
                eps=1e-3, rtol=2e-3, atol=2e-3)


def test_dot_product_attention_errors():
    q, k, v = qkv(N=3, K=2)
    with pytest.raises(ValueError, match="query heads must be a multiple of key/value heads, "
                                         "but got 3 vs 2"):
        nn.dot_product_attention(q, k, v)
    q, k, v = qkv()
    with pytest.raises(ValueError, match="mask dtype should be bool, but got float32"):
        nn.dot_product_attention(q, k, v, mask=BIAS)
    with pytest.raises(ValueError, match=r"value shape should be \[2, 4, 2, 5\]: but got"):
        nn.dot_product_attention(q, k, v[:, :3])
    with pytest.raises(ValueError, match="query dtype should be float32, but got float16"):
        nn.dot_product_attention(q.astype(np.float16), k, v)
    with pytest.raises(ValueError, match="query_seq_lengths dtype should be int32"):
        nn.dot_product_attention(q, k, v, query_seq_lengths=np.array([1.0, 2.0]))
    with pytest.raises(NotImplementedError, match="implementation='cudnn' needs cuDNN"):
        nn.dot_product_attention(q, k, v, implementation="cudnn")
    with pytest.raises(ValueError, match="Unsupported implementation option: flash"):
        nn.dot_product_attention(q, k, v, implementation="flash")
