"""spmd.scipy.stats: the distributions of jax.scipy.stats, one module each
(`spmd.scipy.stats.norm.logpdf(x, loc, scale)`, ...), with SciPy's parametrization."""
from spmd.scipy.stats import (bernoulli, beta, betabinom, binom, cauchy, chi2,  # noqa: F401
                              dirichlet, expon, gamma, gennorm, geom, gumbel_l, gumbel_r,
                              laplace, logistic, multinomial, multivariate_normal, nbinom, norm,
                              pareto, poisson, t, truncnorm, uniform, vonmises, wrapcauchy)
from spmd.scipy.stats._summaries import mode, rankdata, sem  # noqa: F401,E402
from spmd.scipy.stats._kde import gaussian_kde  # noqa: F401,E402
