"""Kernel least squares, in the style of JAX's old examples/kernel_lsq.py: a Gram matrix by
nested vmap, a ridge objective minimized by jitted momentum steps in a lax.fori_loop, and a
vmapped predictor; the closed form from jnp.linalg.solve alongside."""
from functools import partial

import numpy.random as npr

import spmd.numpy as jnp
from spmd import grad, jit, lax, vmap
from spmd.example_libraries import optimizers


def gram(kernel, xs):
    return vmap(lambda x: vmap(lambda y: kernel(x, y))(xs))(xs)


def minimize(f, x, num_steps, step_size, mass=0.9):
    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass)

    @jit
    def run(opt_state):
        step = lambda i, state: opt_update(i, grad(f)(get_params(state)), state)
        return lax.fori_loop(0, num_steps, step, opt_state)

    return get_params(run(opt_init(x)))


def train(kernel, xs, ys, regularization, num_steps, step_size):
    gram_mat = jit(partial(gram, kernel))(xs)
    n = xs.shape[0]

    def objective(v):
        risk = .5 * jnp.sum((jnp.dot(gram_mat, v) - ys) ** 2.)
        reg = regularization * jnp.sum(v ** 2.)
        return risk + reg

    v = minimize(objective, jnp.zeros(n), num_steps, step_size)
    # The minimizer in closed form: (G^T G + 2 reg I) v = G^T y.
    exact = jnp.linalg.solve(gram_mat.T @ gram_mat + 2 * regularization * jnp.eye(n),
                             gram_mat.T @ ys)

    def predict(x):
        prods = vmap(lambda x_: kernel(x, x_))(xs)
        return jnp.sum(v * prods)

    return jit(vmap(predict)), v, exact, gram_mat


def main(n=30, d=3, regularization=0.05, num_steps=400, step_size=0.01):
    rng = npr.RandomState(0)
    truth = rng.randn(d).astype("float32")
    xs = rng.randn(n, d).astype("float32")
    ys = jnp.dot(xs, truth)
    rbf = lambda x, y: jnp.exp(-0.5 * jnp.sum((x - y) ** 2))
    predict, v, exact, gram_mat = train(rbf, xs, ys, regularization, num_steps, step_size)
    mse = jnp.mean((predict(xs) - ys) ** 2)
    print(f"training mse {mse:.6f}")
    print(f"distance to the closed form {jnp.linalg.norm(v - exact):.6f}")
    return {"xs": xs, "ys": ys, "v": v, "exact": exact, "gram": gram_mat, "mse": mse,
            "regularization": regularization}


if __name__ == "__main__":
    main()
