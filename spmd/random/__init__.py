"""spmd.random: JAX's functional random numbers. Keys are explicit values (`key`, `PRNGKey`),
`split` and `fold_in` derive new ones, and every sampler is a pure function of its key, built
on the Threefry-2x32 counter-based hash; the same key gives the same numbers as JAX's."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.random.keys import (KEY_DTYPE, PRNGKey, PRNGKeyArray, key, key_data,  # noqa: F401
                              key_impl, wrap_key_data)
from spmd.random.impls import PRNGImpl, default_prng_impl  # noqa: F401
from spmd.random.binomial import binomial, multinomial  # noqa: F401
from spmd.random.distributions import (cauchy, double_sided_maxwell, geometric,  # noqa: F401
                                       laplace, logistic, lognormal, maxwell, pareto,
                                       rademacher, rayleigh, triangular, wald, weibull_min)
from spmd.random.gamma import gamma, loggamma, random_gamma_p  # noqa: F401
from spmd.random.gamma_family import (ball, beta, chisquare, dirichlet, f,  # noqa: F401
                                      generalized_normal, t)
from spmd.random.key_extras import clone, key_dtype  # noqa: F401
from spmd.random.key_ops import fold_in, split  # noqa: F401
from spmd.random.samplers import (bernoulli, bits, categorical, exponential, gumbel,  # noqa: F401
                                  normal, randint, truncated_normal, uniform)
from spmd.random.matrices import multivariate_normal, orthogonal  # noqa: F401
from spmd.random.poisson import poisson  # noqa: F401
from spmd.random.shuffling import choice, permutation  # noqa: F401


__getattr__ = _module_getattr("spmd.random", "jax.random")
