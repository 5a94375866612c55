"""spmd.scipy.stats: the distributions of jax.scipy.stats, one module each
(`spmd.scipy.stats.norm.logpdf(x, loc, scale)`, ...), with SciPy's parametrization."""
from spmd.scipy.stats import (bernoulli, beta, cauchy, gamma, laplace, logistic,  # noqa: F401
                              multivariate_normal, norm, poisson, t, uniform)
