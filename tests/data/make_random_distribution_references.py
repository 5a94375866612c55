"""Writes random_distributions_references.json: what jax 0.10.2's samplers beyond uniform and
normal (cauchy, laplace, ..., triangular) draw for fixed keys under two PRNG implementations,
the oracle of tests/spmd/test_random_more.py. Run with jax installed (the benchmarks' venv):
`cd benchmarks && ../.bench-venv/bin/python ../tests/data/make_random_distribution_references.py`.
The tests never import jax; they read this file. Each entry is [dtype name, values]."""
import json
import os

import numpy as np

import jax
import jax.numpy as jnp

IMPLS = ["threefry2x32", "rbg"]
# Gamma-based samplers compile slowly (a rejection loop per element): the second
# implementation records only gamma itself and its gradient, which cover their key use.
SECOND_IMPL_SKIPS = {"poisson", "poisson_int8",  # JAX's poisson is threefry2x32's only
                     "gamma_f16", "loggamma", "beta", "dirichlet", "chisquare", "f", "t",
                     "generalized_normal", "ball", "grad_loggamma"}

# name -> (sampler name, positional arguments after the key, keyword arguments). The table goes
# into the JSON too, so the tests replay exactly these calls. A list of ints is a shape, a list
# of floats a float32 array.
CALLS = {
    "cauchy": ("cauchy", [[5]], {}),
    "cauchy_f16": ("cauchy", [[4]], {"dtype": "float16"}),
    "laplace": ("laplace", [[5]], {}),
    "logistic": ("logistic", [[5]], {}),
    "lognormal": ("lognormal", [0.5, [5]], {}),
    "pareto_bf16": ("pareto", [2.0, [4]], {"dtype": "bfloat16"}),
    "pareto": ("pareto", [[1.0, 2.0, 3.0]], {}),
    "rademacher": ("rademacher", [[8]], {}),
    "rademacher_f32": ("rademacher", [[4]], {"dtype": "float32"}),
    "rayleigh": ("rayleigh", [2.0, [5]], {}),
    "maxwell": ("maxwell", [[2, 3]], {}),
    "double_sided_maxwell": ("double_sided_maxwell", [1.0, 2.0, [5]], {}),
    "double_sided_maxwell_params": ("double_sided_maxwell", [[0.0, 1.0], 2.0], {}),
    "weibull_min": ("weibull_min", [2.0, 1.5, [5]], {}),
    "wald": ("wald", [[0.5, 1.0, 3.0]], {}),
    "triangular": ("triangular", [0.0, [0.5, 2.0], 3.0, [3, 2]], {}),
    "geometric": ("geometric", [[0.1, 0.5, 0.9], [2, 3]], {}),
    "gamma": ("gamma", [[0.3, 1.0, 2.5, 10.0]], {}),
    "gamma_f16": ("gamma", [2.0, [3]], {"dtype": "float16"}),
    "loggamma": ("loggamma", [[0.01, 0.3, 1.0, 7.0]], {}),
    "beta": ("beta", [[0.5, 2.0, 5.0], 1.5], {}),
    "dirichlet": ("dirichlet", [[0.5, 1.0, 3.0], [2]], {}),
    "chisquare": ("chisquare", [[1.0, 3.0, 8.0]], {}),
    "f": ("f", [[2.0, 5.0], 7.0], {}),
    "t": ("t", [[1.0, 4.0, 30.0]], {}),
    "generalized_normal": ("generalized_normal", [1.5, [4]], {}),
    "ball": ("ball", [3, 2, [2]], {}),
    "multivariate_normal": ("multivariate_normal", [[1.0, -1.0], [[2.0, 0.5], [0.5, 1.0]], [3]],
                            {}),
    "multivariate_normal_eigh": ("multivariate_normal", [[0.0, 0.0], [[1.0, 0.3], [0.3, 1.0]]],
                                 {"shape": [2], "method": "eigh"}),
    "multivariate_normal_svd": ("multivariate_normal", [[0.0, 0.0], [[1.0, 0.3], [0.3, 1.0]]],
                                {"shape": [2], "method": "svd"}),
    "orthogonal": ("orthogonal", [3], {}),
    "orthogonal_wide": ("orthogonal", [2, [2]], {"m": 3}),
    "poisson": ("poisson", [[0.0, 0.5, 3.0, 9.5, 10.0, 50.0, 1000.0]], {}),
    "poisson_int8": ("poisson", [4.0, [5]], {"dtype": "int8"}),
    "binomial": ("binomial", [[5.0, 20.0, 100.0, 1000.0], [0.3, 0.6, 0.2, 0.9]], {}),
    "multinomial": ("multinomial", [20.0, [0.2, 0.5, 0.3]], {}),
    "multinomial_batch": ("multinomial", [[5.0, 50.0], [0.1, 0.0, 0.9]], {"shape": [2, 3]}),
    # gradients: grad of the sum of the draws with respect to the first parameter
    "grad_gamma": ("grad:gamma", [[0.3, 1.0, 2.5, 10.0]], {}),
    "grad_loggamma": ("grad:loggamma", [[0.3, 1.0, 2.5, 10.0]], {}),
}


def _arg(a):
    return tuple(a) if isinstance(a, list) and all(isinstance(e, int) for e in a) else (
        jnp.asarray(a, jnp.float32) if isinstance(a, list) else a)


def call(module, key, name):
    fn_name, args, kwargs = CALLS[name]
    args = [_arg(a) for a in args]
    kwargs = {k: (tuple(v) if k == "shape" else getattr(jnp, v) if k == "dtype" else v)
              for k, v in kwargs.items()}
    if fn_name.startswith("grad:"):
        fn = getattr(module, fn_name[5:])
        return jax.grad(lambda a: fn(key, a, *args[1:], **kwargs).sum())(args[0])
    return getattr(module, fn_name)(key, *args, **kwargs)


def main():
    refs = {}
    for impl in IMPLS:
        key = jax.random.key(42, impl=impl)
        refs[impl] = {}
        for name in CALLS:
            if impl != IMPLS[0] and name in SECOND_IMPL_SKIPS:
                continue
            out = np.asarray(call(jax.random, key, name))
            refs[impl][name] = [out.dtype.name, out.astype(np.float64).tolist()]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "random_distributions_references.json")
    with open(path, "w") as f:
        json.dump({"jax_version": jax.__version__, "calls": CALLS, "draws": refs}, f, indent=0)
    print("wrote", path)


if __name__ == "__main__":
    main()
