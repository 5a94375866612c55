"""spmd.numpy.convolve/correlate beyond the table rows (numpy_cases.py runs every mode through
values, jit, grad and vmap): complex operands, preferred_element_type, and the misuses."""
import numpy as np
import pytest

import spmd.numpy as jnp
from tests.oracles import assert_close

rng = np.random.default_rng(2)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_complex_operands_conjugate_the_second_in_correlate(mode):
    a = (rng.standard_normal(6) + 1j * rng.standard_normal(6)).astype(np.complex64)
    v = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64)
    assert_close(jnp.correlate(a, v, mode), np.correlate(a, v, mode).astype(np.complex64))
    assert_close(jnp.correlate(v, a, mode), np.correlate(v, a, mode).astype(np.complex64))
    assert_close(jnp.convolve(v, a, mode), np.convolve(v, a, mode).astype(np.complex64))


def test_integers_with_preferred_element_type_stay_integers():
    a, v = np.arange(6, dtype=np.int32), np.array([1, -2, 3], np.int32)
    got = jnp.convolve(a, v, preferred_element_type=np.int32)
    assert_close(got, np.convolve(a, v).astype(np.int32))


@pytest.mark.parametrize("call, message", [
    (lambda: jnp.convolve(np.ones((2, 2)), np.ones(2)), r"convolve\(\) only supports "
                                                        "1-dimensional inputs"),
    (lambda: jnp.correlate(np.ones(3), np.ones(0)), "correlate: inputs cannot be empty"),
    (lambda: jnp.convolve(np.ones(3), np.ones(2), "circular"),
     r"mode must be one of \['full', 'same', 'valid'\], got 'circular'"),
])
def test_misuse_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
