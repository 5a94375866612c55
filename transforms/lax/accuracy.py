"""JAX's `accuracy=` of the transcendental functions (exp, log, tanh, sin ...): a `Tolerance`
(atol, rtol or ulps) or an `AccuracyMode` asks XLA for an implementation that meets it; it
becomes the operation's `result_accuracy` attribute."""
from __future__ import annotations

import enum


class Tolerance:
    """The largest error a unary function may make: absolute, relative or in units in the last
    place (jax.lax.Tolerance; at most two of the three are meaningful together)."""

    def __init__(self, atol: float = 0.0, rtol: float = 0.0, ulps: int = 0):
        if atol < 0.0 or rtol < 0.0 or ulps < 0:
            raise ValueError("Tolerances must be non-negative.")
        if atol == 0.0 and rtol == 0.0 and ulps == 0:
            raise ValueError("At least one of atol, rtol, or ulps must be set.")
        self.atol, self.rtol, self.ulps = atol, rtol, ulps

    def _key(self):
        return (self.atol, self.rtol, self.ulps)

    def __eq__(self, other):  # equal tolerances trace to the same program
        return isinstance(other, Tolerance) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Tolerance(atol={self.atol}, rtol={self.rtol}, ulps={self.ulps})"


class AccuracyMode(enum.Enum):
    """jax.lax.AccuracyMode: the most accurate implementation XLA has, or its default one."""
    HIGHEST = 1
    DEFAULT = 2


def check_accuracy(accuracy):
    if accuracy is not None and not isinstance(accuracy, (Tolerance, AccuracyMode)):
        raise TypeError(f"accuracy must be None, a lax.Tolerance or a lax.AccuracyMode, got "
                        f"{accuracy!r}")
    return accuracy


def accuracy_attr(accuracy) -> str:
    """The `result_accuracy = #stablehlo.result_accuracy<...>` attribute text ("" for None)."""
    if accuracy is None:
        return ""
    if isinstance(accuracy, AccuracyMode):
        atol, rtol, ulps, mode = 0.0, 0.0, 0, accuracy.name
    else:
        atol, rtol, ulps, mode = accuracy.atol, accuracy.rtol, accuracy.ulps, "TOLERANCE"
    return (f"result_accuracy = #stablehlo.result_accuracy<atol = {float(atol):e}, rtol = "
            f"{float(rtol):e}, ulps = {int(ulps)}, mode = #stablehlo.result_accuracy_mode<{mode}>>")
