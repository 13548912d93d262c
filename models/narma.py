"""The NARMA time-series task (nonlinear autoregressive moving average).

NARMA of order ``n`` (Atiya and Parlos, IEEE Trans. Neural Networks 11(3), 2000) maps
an input ``u(t)`` drawn uniformly from [0, 0.5] to

    y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{n-1} y(t-i) + 1.5 u(t-n+1) u(t) + 0.1.

The arrays here are aligned so that ``targets[k] = y(k+1)``: the value a reservoir
should output once it has seen ``inputs[k]``. Values before the first sample are zero.
"""

from __future__ import annotations

import numpy as np

__all__ = ["INPUT_RANGE", "NarmaDivergence", "narma_series", "narma_targets"]

INPUT_RANGE = (0.0, 0.5)
_FEEDBACK, _SUM_GAIN, _PRODUCT_GAIN, _OFFSET = 0.3, 0.05, 1.5, 0.1
_DIVERGED = 1e3


class NarmaDivergence(ValueError):
    """A NARMA series that grew without bound; higher orders do so for some inputs."""


def narma_targets(inputs, order: int = 10) -> np.ndarray:
    """Return the NARMA targets of ``inputs`` (shape ``(n_samples,)``), ``targets[k] = y(k+1)``.

    Raises:
        NarmaDivergence: when the series exceeds 1e3 or stops being finite.
    """
    u = np.asarray(inputs, dtype=float)
    if u.ndim != 1:
        raise ValueError(f"inputs must be one-dimensional, got shape {u.shape}")
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    y = np.zeros(len(u))
    for k in range(len(u)):
        previous = y[k - 1] if k > 0 else 0.0
        window = y[max(k - order, 0):k].sum()
        delayed = u[k - order + 1] if k - order + 1 >= 0 else 0.0
        y[k] = (_FEEDBACK * previous + _SUM_GAIN * previous * window
                + _PRODUCT_GAIN * delayed * u[k] + _OFFSET)
        if not abs(y[k]) < _DIVERGED:
            raise NarmaDivergence(f"the NARMA-{order} series diverged at sample {k} "
                                  f"(value {y[k]:.3g})")
    return y


def narma_series(n_samples: int, order: int = 10, seed: int = 0):
    """Return ``(inputs, targets)``: seeded uniform inputs in [0, 0.5] and their targets."""
    inputs = np.random.default_rng(seed).uniform(*INPUT_RANGE, size=n_samples)
    return inputs, narma_targets(inputs, order)
