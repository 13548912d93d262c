"""Trainable circuit values with their constraints built in, and hardware-aware rounding.

``BoundedPositive`` keeps values such as conductances (siemens) or capacitances
(farads) inside a component range through a sigmoid in log space, so no step of
any optimizer can leave the range. ``straight_through`` rounds in the forward pass
and passes gradients unchanged (the straight-through estimator), for training with
the values a part series or a device can actually take.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["BoundedPositive", "log_levels", "nearest_level", "relative_noise",
           "straight_through"]

# Keeps initial values off the flat ends of the sigmoid, where gradients vanish.
_EDGE = 1e-6


class BoundedPositive(torch.nn.Module):
    """Values in ``[low, high]`` as ``low * (high / low) ** sigmoid(raw)``.

    Args:
        initial: starting values, any shape, in the unit of ``low`` and ``high``;
            they are clipped into the range.
        low, high: the range, positive, ``low < high``.
        trainable: False keeps the values fixed (no gradient).
    """

    def __init__(self, initial, low: float, high: float, trainable: bool = True):
        super().__init__()
        if not 0 < low < high or not math.isfinite(high):
            raise ValueError(f"need 0 < low < high, got low={low!r}, high={high!r}")
        self.low, self.high = float(low), float(high)
        self.raw = torch.nn.Parameter(self._to_raw(initial), requires_grad=trainable)

    def _to_raw(self, values) -> torch.Tensor:
        values = torch.as_tensor(np.asarray(values, dtype=float), dtype=torch.float64)
        share = torch.log(values / self.low) / math.log(self.high / self.low)
        share = share.clamp(_EDGE, 1 - _EDGE)
        return torch.log(share) - torch.log1p(-share)

    def forward(self) -> torch.Tensor:
        values = self.low * torch.exp(torch.sigmoid(self.raw) * math.log(self.high / self.low))
        return values.clamp(self.low, self.high)  # round-off can pass ``high`` by 1 ulp

    def set_values(self, values) -> None:
        """Move the parameter to ``values`` (clipped into the range)."""
        with torch.no_grad():
            self.raw.copy_(self._to_raw(values))


def straight_through(values: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """Return ``rounded`` in the forward pass with the gradient of ``values``."""
    return values + (rounded - values).detach()


def nearest_level(values: torch.Tensor, levels, log: bool = False) -> torch.Tensor:
    """Return each value replaced by the nearest of ``levels`` (sorted ascending).

    ``log=True`` measures distance in log space, as E-series rounding does; the
    values must then be positive.
    """
    levels = torch.as_tensor(np.asarray(levels, dtype=float), dtype=values.dtype)
    if levels.ndim != 1 or len(levels) == 0:
        raise ValueError("levels must be a non-empty 1-D sequence")
    scale = torch.log if log else (lambda x: x)
    points = scale(levels)
    middles = (points[1:] + points[:-1]) / 2
    index = torch.bucketize(scale(values.detach()), middles)
    return levels[index]


def log_levels(series_values) -> np.ndarray:
    """Return series values sorted ascending as floats (for ``nearest_level(log=True)``)."""
    return np.sort(np.asarray(series_values, dtype=float))


def relative_noise(values: torch.Tensor, sigma: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Return ``values * (1 + sigma * N(0, 1))``, one draw per element.

    ``sigma`` is a fraction: a 1 % resistor's tolerance read as one standard
    deviation is 0.01; programming noise of a memristor is given the same way.
    """
    if sigma == 0:
        return values
    draw = torch.randn(values.shape, generator=generator, dtype=values.dtype)
    return values * (1 + sigma * draw)
