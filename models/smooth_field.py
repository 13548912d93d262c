"""Seeded smooth random fields, for hidden coefficients such as a spatially varying D.

The field is a sum of random Fourier features,
``s(x) = sqrt(2 / M) sum_m cos(w_m . x + phi_m)`` over ``M`` features, with ``w_m``
drawn from a normal distribution of standard deviation ``1 / correlation_length`` per
axis and ``phi_m`` uniform in ``[0, 2 pi)``. Its covariance approaches the
squared-exponential kernel of that length as ``M`` grows. The field is defined at any
point, so grid nodes and edge midpoints read one field.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["smooth_factors", "smooth_field"]

FEATURES = 64


def smooth_field(points, correlation_length: float, seed: int) -> np.ndarray:
    """Return the field at ``points`` (shape ``(k, ndim)``, grid units), shape ``(k,)``."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    if not (math.isfinite(correlation_length) and correlation_length > 0):
        raise ValueError(f"correlation_length must be positive, got {correlation_length!r}")
    rng = np.random.default_rng(seed)
    frequencies = rng.normal(0.0, 1.0 / correlation_length, size=(FEATURES, points.shape[1]))
    phases = rng.uniform(0.0, 2 * math.pi, size=FEATURES)
    return np.sqrt(2.0 / FEATURES) * np.cos(points @ frequencies.T + phases).sum(axis=1)


def smooth_factors(points, correlation_length: float, seed: int, low: float,
                   high: float) -> np.ndarray:
    """Return factors in ``[low, high]`` that follow the field, uniformly in log scale.

    The smallest field value over ``points`` maps to ``low`` and the largest to
    ``high``. With one point, or a flat field, every factor is ``sqrt(low high)``.
    """
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got {low!r} and {high!r}")
    field = smooth_field(points, correlation_length, seed)
    spread = float(field.max() - field.min())
    share = (field - field.min()) / spread if spread > 0 else np.full(field.shape, 0.5)
    return low * (high / low) ** share
