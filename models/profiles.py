"""More initial-condition profiles: a box step, seeded noise, explicit values, a digit image.

Like the profiles in ``npdehw.models.fields``, each evaluates to an array of shape
``grid.shape`` in model units.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from npdehw.errors import SpecError
from npdehw.models.grid import Grid

__all__ = ["Digit", "Noise", "Step", "Values"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Step:
    """``value`` inside the box ``low <= x <= high`` (model lengths), ``outside`` elsewhere."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    value: float = 1.0
    outside: float = 0.0

    def __post_init__(self):
        if len(self.low) != len(self.high) or any(a > b for a, b in zip(self.low, self.high)):
            raise SpecError("low", f"needs low <= high per axis, got {list(self.low)} and "
                            f"{list(self.high)}")

    def evaluate(self, grid: Grid) -> np.ndarray:
        if len(self.low) != grid.ndim:
            raise SpecError("low", f"needs {grid.ndim} entries, got {list(self.low)}")
        inside = np.ones(grid.shape, dtype=bool)
        for x, a, b in zip(grid.mesh(), self.low, self.high):
            inside &= (x >= a) & (x <= b)
        return np.where(inside, self.value, self.outside)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Noise:
    """Independent uniform values in ``[low, high]`` from a seeded numpy generator."""

    low: float
    high: float
    seed: int = 0

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise SpecError("low", f"needs finite low <= high, got {self.low!r}, {self.high!r}")

    def evaluate(self, grid: Grid) -> np.ndarray:
        return np.random.default_rng(self.seed).uniform(self.low, self.high, size=grid.shape)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Values:
    """Explicit node values in C order, one per grid node (obstacles included)."""

    values: tuple[float, ...]

    def evaluate(self, grid: Grid) -> np.ndarray:
        if len(self.values) != grid.n_cells:
            raise SpecError("values", f"needs {grid.n_cells} values for grid "
                            f"{list(grid.shape)}, got {len(self.values)}")
        return np.asarray(self.values, dtype=float).reshape(grid.shape)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Digit:
    """A thresholded 8 x 8 digit from scikit-learn's bundled digits data.

    Pixels with intensity (0 to 16) at or above ``threshold`` are ``black``, the rest
    ``white``; ``upscale`` repeats each pixel into an ``upscale`` x ``upscale`` block.
    Axis 0 of the grid is the image column and axis 1 the row counted from the bottom.
    """

    index: int
    threshold: float = 8.0
    black: float = 1.0
    white: float = -1.0
    upscale: int = 1

    def image(self) -> np.ndarray:
        """Return the binary image as booleans (True = black), rows from the top."""
        from sklearn.datasets import load_digits

        images = load_digits().images
        if not 0 <= self.index < len(images):
            raise SpecError("index", f"digit index must be in [0, {len(images) - 1}], got "
                            f"{self.index}")
        block = np.ones((self.upscale, self.upscale), dtype=bool)
        return np.kron(images[self.index] >= self.threshold, block).astype(bool)

    def evaluate(self, grid: Grid) -> np.ndarray:
        image = self.image()
        if grid.shape != image.shape[::-1]:
            raise SpecError("shape", f"the digit is {image.shape[1]} x {image.shape[0]} pixels; "
                            f"set npde.shape = [{image.shape[1]}, {image.shape[0]}]")
        return np.where(image[::-1].T, self.black, self.white)
