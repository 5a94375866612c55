"""jax.example_libraries.stax: a neural network as a pair of functions.

Every layer constructor returns `(init_fun, apply_fun)`:
  init_fun(rng, input_shape) -> (output_shape, params)
  apply_fun(params, inputs, **kwargs) -> outputs   (kwargs may carry `rng`, for Dropout)
`serial` and `parallel` compose such pairs into one. The defaults, random streams and shape
rules are JAX 0.10.2's, so that a key gives the parameters JAX gives."""
import functools
import math

import numpy as np

import spmd.numpy as jnp
from spmd import lax, random
from spmd.nn.initializers import glorot_normal, normal, ones, zeros  # noqa: F401
from spmd.nn import (elu, gelu, leaky_relu, log_softmax, relu, selu, sigmoid,  # noqa: F401
                     softmax, softplus, standardize)

# the older names JAX keeps for these
glorot = glorot_normal
randn = normal
logsoftmax = log_softmax


# ---------------------------------------------------------------------------- layers with params
def Dense(out_dim, W_init=glorot_normal(), b_init=normal()):  # noqa: B008  (JAX's defaults)
    """A fully connected layer: inputs @ W + b over the last axis."""
    def init_fun(rng, input_shape):
        k1, k2 = random.split(rng)
        params = W_init(k1, (input_shape[-1], out_dim)), b_init(k2, (out_dim,))
        return tuple(input_shape[:-1]) + (out_dim,), params

    def apply_fun(params, inputs, **kwargs):
        W, b = params
        return jnp.dot(inputs, W) + b
    return init_fun, apply_fun


def _kernel_shape(specs, out_chan, filter_shape, input_shape):
    """The kernel's shape in its own layout: 'O' out_chan, 'I' the input's channels, and the
    spatial sizes of filter_shape in order."""
    lhs_spec, rhs_spec, _ = specs
    spatial = iter(filter_shape)
    return [out_chan if c == "O" else input_shape[lhs_spec.index("C")] if c == "I"
            else next(spatial) for c in rhs_spec]


def _conv_layer(shape_rule, apply_rule):
    """A convolution layer constructor from its output-shape rule and its lax operation; the
    bias broadcasts over every output axis but the channels."""
    def Layer(dimension_numbers, out_chan, filter_shape, strides=None, padding="VALID",
              W_init=None, b_init=normal(1e-6)):  # noqa: B008  (JAX's default)
        _, rhs_spec, out_spec = dimension_numbers
        strides = strides or (1,) * len(filter_shape)
        W_init = W_init or glorot_normal(rhs_spec.index("I"), rhs_spec.index("O"))

        def init_fun(rng, input_shape):
            kernel_shape = _kernel_shape(dimension_numbers, out_chan, filter_shape, input_shape)
            output_shape = shape_rule(input_shape, kernel_shape, strides, padding,
                                      dimension_numbers)
            bias_shape = [out_chan if c == "C" else 1 for c in out_spec]
            k1, k2 = random.split(rng)
            return output_shape, (W_init(k1, kernel_shape), b_init(k2, bias_shape))

        def apply_fun(params, inputs, **kwargs):
            W, b = params
            return apply_rule(inputs, W, strides, padding, dimension_numbers) + b
        return init_fun, apply_fun
    return Layer


def _conv(inputs, W, strides, padding, dimension_numbers):
    one = (1,) * len(strides)
    return lax.conv_general_dilated(inputs, W, strides, padding, one, one,
                                    dimension_numbers=dimension_numbers)


def _conv_transpose(inputs, W, strides, padding, dimension_numbers):
    return lax.conv_transpose(inputs, W, strides, padding, dimension_numbers=dimension_numbers)


GeneralConv = _conv_layer(lax.conv_general_shape_tuple, _conv)
GeneralConv.__name__ = GeneralConv.__qualname__ = "GeneralConv"
GeneralConv.__doc__ = "A convolution layer in any layout (`dimension_numbers`: lhs, rhs, out)."
Conv = functools.partial(GeneralConv, ("NHWC", "HWIO", "NHWC"))

GeneralConvTranspose = _conv_layer(lax.conv_transpose_shape_tuple, _conv_transpose)
GeneralConvTranspose.__name__ = GeneralConvTranspose.__qualname__ = "GeneralConvTranspose"
GeneralConvTranspose.__doc__ = "A transposed-convolution layer in any layout."
Conv1DTranspose = functools.partial(GeneralConvTranspose, ("NHC", "HIO", "NHC"))
ConvTranspose = functools.partial(GeneralConvTranspose, ("NHWC", "HWIO", "NHWC"))


def BatchNorm(axis=(0, 1, 2), epsilon=1e-5, center=True, scale=True,
              beta_init=zeros, gamma_init=ones):
    """Normalizes over `axis` (the batch's own statistics), then scales by gamma and shifts by
    beta, both shaped as the axes that remain; center/scale=False leaves that param out (())."""
    axis = (axis,) if np.isscalar(axis) else tuple(axis)

    def init_fun(rng, input_shape):
        shape = tuple(d for i, d in enumerate(input_shape) if i not in axis)
        k1, k2 = random.split(rng)
        beta = beta_init(k1, shape) if center else ()
        gamma = gamma_init(k2, shape) if scale else ()
        return input_shape, (beta, gamma)

    def apply_fun(params, x, **kwargs):
        beta, gamma = params
        # the params lack the normalized axes: a None index restores each for broadcasting
        expand = tuple(None if i in axis else slice(None) for i in range(jnp.ndim(x)))
        z = standardize(x, axis, epsilon=epsilon)
        if scale:
            z = gamma[expand] * z
        if center:
            z = z + beta[expand]
        return z
    return init_fun, apply_fun


# ---------------------------------------------------------------------------- elementwise layers
def elementwise(fun, **fun_kwargs):
    """A layer without params that applies `fun(inputs, **fun_kwargs)`."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        return fun(inputs, **fun_kwargs)
    return init_fun, apply_fun


Tanh = elementwise(jnp.tanh)
Relu = elementwise(relu)
Exp = elementwise(jnp.exp)
LogSoftmax = elementwise(log_softmax, axis=-1)
Softmax = elementwise(softmax, axis=-1)
Softplus = elementwise(softplus)
Sigmoid = elementwise(sigmoid)
Elu = elementwise(elu)
LeakyRelu = elementwise(leaky_relu)
Selu = elementwise(selu)
Gelu = elementwise(gelu)


# ---------------------------------------------------------------------------- pooling
def _non_spatial_axes(spec, ndim):
    """Where the batch and channel axes are: spec's 'N' and 'C', else first and last (NHWC)."""
    return (0, ndim - 1) if spec is None else (spec.index("N"), spec.index("C"))


def _window_sizes(window, strides, padding, inputs, spec):
    """How many input elements each output of the window covers (fewer at padded edges),
    broadcastable against the pooled output."""
    non_spatial = _non_spatial_axes(spec, inputs.ndim)
    spatial_shape = tuple(d for i, d in enumerate(inputs.shape) if i not in non_spatial)
    sizes = lax.reduce_window(jnp.ones(spatial_shape, inputs.dtype), 0., lax.add, window,
                              strides, padding)
    for i in sorted(non_spatial):
        sizes = jnp.expand_dims(sizes, i)
    return sizes


def _pooling_layer(reducer, init_val, average=False):
    def PoolingLayer(window_shape, strides=None, padding="VALID", spec=None):
        """A pooling layer over the spatial axes: window_shape and strides name those only (the
        batch and channel axes, placed by `spec`, default NHWC, get windows of 1)."""
        spatial_window = tuple(window_shape)
        spatial_strides = tuple(strides or (1,) * len(window_shape))
        window, window_strides = spatial_window, spatial_strides
        for i in sorted(_non_spatial_axes(spec, len(spatial_window) + 2)):
            window = window[:i] + (1,) + window[i:]
            window_strides = window_strides[:i] + (1,) + window_strides[i:]

        def init_fun(rng, input_shape):
            pads = lax.padtype_to_pads(input_shape, window, window_strides, padding)
            ones_ = (1,) * len(window)
            return lax.reduce_window_shape_tuple(input_shape, window, window_strides, pads,
                                                 ones_, ones_), ()

        def apply_fun(params, inputs, **kwargs):
            out = lax.reduce_window(inputs, init_val, reducer, window, window_strides, padding)
            if not average:
                return out
            return out / _window_sizes(spatial_window, spatial_strides, padding, inputs, spec)
        return init_fun, apply_fun
    return PoolingLayer


MaxPool = _pooling_layer(lax.max, -jnp.inf)
SumPool = _pooling_layer(lax.add, 0.)
AvgPool = _pooling_layer(lax.add, 0., average=True)


# ---------------------------------------------------------------------------- shape layers
def _flatten():
    """Flattens all but the leading (batch) axis."""
    def init_fun(rng, input_shape):
        return (input_shape[0], math.prod(input_shape[1:])), ()

    def apply_fun(params, inputs, **kwargs):
        return jnp.reshape(inputs, (inputs.shape[0], -1))
    return init_fun, apply_fun


Flatten = _flatten()
Identity = elementwise(lambda inputs: inputs)


def FanOut(num):
    """Hands the same input to `num` branches (a list of `num` inputs)."""
    def init_fun(rng, input_shape):
        return [input_shape] * num, ()

    def apply_fun(params, inputs, **kwargs):
        return [inputs] * num
    return init_fun, apply_fun


def _fan_in_sum():
    """Adds up the branches' outputs (all of one shape)."""
    def init_fun(rng, input_shape):
        return input_shape[0], ()

    def apply_fun(params, inputs, **kwargs):
        return sum(inputs)
    return init_fun, apply_fun


FanInSum = _fan_in_sum()


def FanInConcat(axis=-1):
    """Concatenates the branches' outputs along `axis`."""
    def init_fun(rng, input_shape):
        ax = axis % len(input_shape[0])
        size = sum(shape[ax] for shape in input_shape)
        first = tuple(input_shape[0])
        return first[:ax] + (size,) + first[ax + 1:], ()

    def apply_fun(params, inputs, **kwargs):
        return jnp.concatenate(inputs, axis)
    return init_fun, apply_fun


def Dropout(rate, mode="train"):
    """In mode 'train', keeps each input with probability `rate` (JAX's meaning: the rate kept,
    not the rate dropped) and divides the kept ones by it; in any other mode, the identity.
    apply_fun needs `rng=` in training."""
    def init_fun(rng, input_shape):
        return input_shape, ()

    def apply_fun(params, inputs, **kwargs):
        rng = kwargs.get("rng", None)
        if rng is None:
            raise ValueError(
                "Dropout layer requires apply_fun to be called with a PRNG key argument: "
                "instead of `apply_fun(params, inputs)`, call `apply_fun(params, inputs, "
                "rng=key)` where `key` is a PRNG key (e.g. from `jax.random.key`).")
        if mode != "train":
            return inputs
        keep = random.bernoulli(rng, rate, inputs.shape)
        return jnp.where(keep, inputs / rate, 0)
    return init_fun, apply_fun


# ---------------------------------------------------------------------------- combinators
def _layer_rngs(rng, count):
    """One key per layer from the apply call's `rng` (None for each when there is none)."""
    return random.split(rng, count) if rng is not None else (None,) * count


def serial(*layers):
    """The layers one after another: each takes the previous one's output. Params are a list,
    one entry per layer."""
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        params = []
        for init in init_funs:
            rng, layer_rng = random.split(rng)
            input_shape, param = init(layer_rng, input_shape)
            params.append(param)
        return input_shape, params

    def apply_fun(params, inputs, **kwargs):
        rngs = _layer_rngs(kwargs.pop("rng", None), len(apply_funs))
        for apply, param, rng in zip(apply_funs, params, rngs):
            inputs = apply(param, inputs, rng=rng, **kwargs)
        return inputs
    return init_fun, apply_fun


def parallel(*layers):
    """The layers side by side: the i-th takes the i-th of a sequence of inputs (FanOut makes
    one) and gives the i-th output (FanInSum/FanInConcat join them)."""
    init_funs, apply_funs = zip(*layers)

    def init_fun(rng, input_shape):
        rngs = random.split(rng, len(init_funs))
        # (shapes, params) from each layer's pair, as JAX returns it: a zip to unpack
        return zip(*[init(r, shape) for init, r, shape in zip(init_funs, rngs, input_shape)])

    def apply_fun(params, inputs, **kwargs):
        rngs = _layer_rngs(kwargs.pop("rng", None), len(apply_funs))
        return [apply(p, x, rng=r, **kwargs)
                for apply, p, x, r in zip(apply_funs, params, inputs, rngs)]
    return init_fun, apply_fun


def shape_dependent(make_layer):
    """A layer built once the input shape is known: `make_layer(shape)` gives its pair."""
    def init_fun(rng, input_shape):
        return make_layer(input_shape)[0](rng, input_shape)

    def apply_fun(params, inputs, **kwargs):
        return make_layer(inputs.shape)[1](params, inputs, **kwargs)
    return init_fun, apply_fun
