"""Closed-form linear readouts: least squares through the pseudoinverse, with ridge."""

from __future__ import annotations

import numpy as np

__all__ = ["LinearReadout", "fit_readout"]


class LinearReadout:
    """``y = X W + b`` with ``W`` of shape ``(features, outputs)`` and ``b`` of ``(outputs,)``."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight = weight
        self.bias = bias

    def __call__(self, features) -> np.ndarray:
        return np.asarray(features, dtype=float) @ self.weight + self.bias


def fit_readout(features, targets, ridge: float = 0.0, rcond: float = 1e-10) -> LinearReadout:
    """Return the readout that minimises ``|X W + b - Y|^2 + ridge |W|^2``.

    Args:
        features: shape ``(samples, features)``.
        targets: shape ``(samples,)`` or ``(samples, outputs)``.
        ridge: Tikhonov weight, 0 for the plain pseudoinverse solution.
        rcond: singular values below ``rcond`` times the largest are treated as zero.
    """
    X = np.asarray(features, dtype=float)
    Y = np.asarray(targets, dtype=float)
    single = Y.ndim == 1
    Y = Y[:, None] if single else Y
    if X.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"features {X.shape} and targets {Y.shape} need the same number "
                         "of rows")
    if not ridge >= 0:
        raise ValueError(f"ridge must be 0 or more, got {ridge!r}")
    mean_x, mean_y = X.mean(axis=0), Y.mean(axis=0)
    centred, goal = X - mean_x, Y - mean_y
    if ridge == 0:
        weight = np.linalg.pinv(centred, rcond=rcond) @ goal
    else:
        gram = centred.T @ centred + ridge * np.eye(X.shape[1])
        weight = np.linalg.solve(gram, centred.T @ goal)
    bias = mean_y - mean_x @ weight
    if single:
        weight, bias = weight[:, 0], bias[0]
    return LinearReadout(weight, bias)
