"""Automatic differentiation variational inference, as JAX's examples/advi.py fits a diagonal
Gaussian to Neal's funnel: a batch ELBO by vmap over random.split keys, norm.logpdf from
jax.scipy.stats, jit with static arguments as a decorator factory, optimizers.momentum."""
from functools import partial

import spmd.numpy as jnp
import spmd.scipy.stats.norm as norm
from spmd import grad, jit, random, vmap
from spmd.example_libraries import optimizers


def diag_gaussian_sample(rng, mean, log_std):
    return mean + jnp.exp(log_std) * random.normal(rng, mean.shape)


def diag_gaussian_logpdf(x, mean, log_std):
    return jnp.sum(vmap(norm.logpdf)(x, mean, jnp.exp(log_std)))


def elbo(logprob, rng, mean, log_std):
    sample = diag_gaussian_sample(rng, mean, log_std)
    return logprob(sample) - diag_gaussian_logpdf(sample, mean, log_std)


def batch_elbo(logprob, rng, params, num_samples):
    rngs = random.split(rng, num_samples)
    vectorized_elbo = vmap(partial(elbo, logprob), in_axes=(0, None, None))
    return jnp.mean(vectorized_elbo(rngs, *params))


@jit(static_argnums=(0, 1, 2, 4))
def _mesh_eval(func, x_limits, y_limits, params, num_ticks):
    x = jnp.linspace(*x_limits, num=num_ticks)
    y = jnp.linspace(*y_limits, num=num_ticks)
    X, Y = jnp.meshgrid(x, y)
    xy_vec = jnp.stack([X.ravel(), Y.ravel()]).T
    zs = vmap(func, in_axes=(0, None))(xy_vec, params)
    return X, Y, zs.reshape(X.shape)


def mesh_eval(func, x_limits, y_limits, params, num_ticks=5):
    return _mesh_eval(func, x_limits, y_limits, params, num_ticks)


def funnel_log_density(params):
    return norm.logpdf(params[0], 0, jnp.exp(params[1])) + norm.logpdf(params[1], 0, 1.35)


def main(num_iterations=60, num_samples=40):
    @jit
    def objective(params, t):
        rng = random.key(t)
        return -batch_elbo(funnel_log_density, rng, params, num_samples)

    init_params = (jnp.zeros(2), jnp.zeros(2))
    opt_init, opt_update, get_params = optimizers.momentum(step_size=0.01, mass=0.9)
    opt_state = opt_init(init_params)

    @jit
    def update(i, opt_state):
        params = get_params(opt_state)
        gradient = grad(objective)(params, i)
        return opt_update(i, gradient, opt_state)

    bounds = []
    for t in range(num_iterations):
        opt_state = update(t, opt_state)
        bounds.append(-objective(get_params(opt_state), t))
        if t % 20 == 0:
            print(f"Iteration {t} lower bound {bounds[-1]:.6f}")
    params = get_params(opt_state)
    target_dist = lambda x, _: jnp.exp(funnel_log_density(x))
    X, Y, Z = mesh_eval(target_dist, (-2, 2), (-4, 2), 1)
    print(f"final mean {params[0][0]:.5f} {params[0][1]:.5f} "
          f"log std {params[1][0]:.5f} {params[1][1]:.5f}")
    print(f"funnel density on the mesh sums to {Z.sum():.6f}")
    return {"bounds": bounds, "params": params, "mesh": (X, Y, Z)}


if __name__ == "__main__":
    main()
