"""bernoulli(n): the Bernoulli numbers B_0 ... B_n (B_1 = -1/2), computed exactly with
rational arithmetic (n is static) and returned as floats."""
from __future__ import annotations

import operator
from fractions import Fraction

import numpy as np

import spmd.numpy as jnp
from spmd.transforms import dtypes


def _bernoulli_numbers(n):
    """The Akiyama-Tanigawa algorithm, which gives B_1 = +1/2; the sign is flipped after."""
    numbers, row = [], []
    for m in range(n + 1):
        row.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        numbers.append(row[0])
    if n >= 1:
        numbers[1] = -numbers[1]
    return numbers


def bernoulli(n):
    """The first n + 1 Bernoulli numbers, B_0 = 1, B_1 = -1/2, B_2 = 1/6, ..."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"bernoulli's n must be a static Python integer (it fixes the output "
                        f"length); got {n!r}") from None
    if n < 0:
        raise ValueError(f"n must be a non-negative integer; got {n}")
    values = np.array([float(b) for b in _bernoulli_numbers(n)])
    return jnp.asarray(values, dtype=dtypes.default_float())
