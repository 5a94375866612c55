"""A variational autoencoder on stax, as JAX's examples/mnist_vae.py trains one (on the 8x8
digits, a few epochs): FanOut and parallel heads, random.bernoulli binarization, one jitted
epoch as a lax.fori_loop whose keys come from random.fold_in, lax.dynamic_slice_in_dim
batches."""
import spmd as jax
import spmd.numpy as jnp
from spmd import grad, jit, lax, random
from spmd.example_libraries import optimizers, stax
from spmd.example_libraries.stax import Dense, FanOut, Relu, Softplus

import digits_data

LATENT = 4


def gaussian_kl(mu, sigmasq):
    """KL divergence from a diagonal Gaussian to the standard Gaussian."""
    return -0.5 * jnp.sum(1. + jnp.log(sigmasq) - mu**2. - sigmasq)


def gaussian_sample(rng, mu, sigmasq):
    return mu + jnp.sqrt(sigmasq) * random.normal(rng, mu.shape)


def bernoulli_logpdf(logits, x):
    return -jnp.sum(jnp.logaddexp(0., jnp.where(x, -1., 1.) * logits))


def elbo(rng, params, images):
    """Monte Carlo estimate of the evidence lower bound."""
    enc_params, dec_params = params
    mu_z, sigmasq_z = encode(enc_params, images)
    logits_x = decode(dec_params, gaussian_sample(rng, mu_z, sigmasq_z))
    return bernoulli_logpdf(logits_x, images) - gaussian_kl(mu_z, sigmasq_z)


encoder_init, encode = stax.serial(
    Dense(32), Relu,
    FanOut(2),
    stax.parallel(Dense(LATENT), stax.serial(Dense(LATENT), Softplus)),
)

decoder_init, decode = stax.serial(
    Dense(32), Relu,
    Dense(64),
)


def main(num_epochs=3, batch_size=32, step_size=0.01):
    test_rng = random.key(1)
    train_images, _, test_images, _ = digits_data.digits()
    num_batches = train_images.shape[0] // batch_size

    enc_init_rng, dec_init_rng = random.split(random.key(2))
    _, init_encoder_params = encoder_init(enc_init_rng, (batch_size, 64))
    _, init_decoder_params = decoder_init(dec_init_rng, (batch_size, LATENT))
    init_params = init_encoder_params, init_decoder_params

    opt_init, opt_update, get_params = optimizers.momentum(step_size, mass=0.9)
    train_images = jax.device_put(train_images)
    test_images = jax.device_put(test_images)

    def binarize_batch(rng, i, images):
        i = i % num_batches
        batch = lax.dynamic_slice_in_dim(images, i * batch_size, batch_size)
        return random.bernoulli(rng, batch)

    @jit
    def run_epoch(rng, opt_state, images):
        def body_fun(i, opt_state):
            elbo_rng, data_rng = random.split(random.fold_in(rng, i))
            batch = binarize_batch(data_rng, i, images)
            loss = lambda params: -elbo(elbo_rng, params, batch) / batch_size
            g = grad(loss)(get_params(opt_state))
            return opt_update(i, g, opt_state)
        return lax.fori_loop(0, num_batches, body_fun, opt_state)

    @jit
    def evaluate(opt_state, images):
        params = get_params(opt_state)
        elbo_rng, data_rng = random.split(test_rng)
        binarized_test = random.bernoulli(data_rng, images)
        return elbo(elbo_rng, params, binarized_test) / images.shape[0], binarized_test

    opt_state = opt_init(init_params)
    elbos = [evaluate(opt_state, test_images)[0]]
    for epoch in range(num_epochs):
        opt_state = run_epoch(random.key(epoch), opt_state, train_images)
        test_elbo, binarized_test = evaluate(opt_state, test_images)
        elbos.append(test_elbo)
        print(f"{epoch: 3d} {test_elbo:.5f}")
    print(f"binarized test pixels {int(binarized_test.sum())}")
    return {"elbos": elbos, "binarized_test": binarized_test, "test_images": test_images,
            "test_key": test_rng}


if __name__ == "__main__":
    main()
