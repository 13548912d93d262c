"""Spatial profiles used as initial conditions and sources on a grid.

Each profile is a frozen specification that evaluates to an array of shape
``grid.shape`` in model units.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from npdehw.errors import SpecError
from npdehw.models.grid import Grid

__all__ = ["Constant", "CosineModes", "Gaussian", "Mode", "Profile", "SineModes"]


def _check_finite(key: str, value: float):
    if not math.isfinite(value):
        raise SpecError(key, f"must be finite, got {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mode:
    """One separable mode: integer wavenumbers per axis and an amplitude."""

    wavenumber: tuple[int, ...]
    amplitude: float

    def __post_init__(self):
        if not self.wavenumber or any(k < 0 for k in self.wavenumber):
            raise SpecError("wavenumber", f"needs non-negative integers, got {list(self.wavenumber)}")
        _check_finite("amplitude", self.amplitude)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SineModes:
    """Sum of ``amplitude * prod(sin(k pi x / L))``: eigenmodes under zero Dirichlet sides."""

    modes: tuple[Mode, ...]

    def __post_init__(self):
        if not self.modes:
            raise SpecError("modes", "needs at least one mode")
        if any(k < 1 for mode in self.modes for k in mode.wavenumber):
            raise SpecError("modes", "sine wavenumbers start at 1 (k = 0 is identically zero)")

    def evaluate(self, grid: Grid) -> np.ndarray:
        return _sum_modes(self.modes, grid, np.sin)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CosineModes:
    """Sum of ``amplitude * prod(cos(k pi x / L))``: eigenmodes under zero-flux sides."""

    modes: tuple[Mode, ...]

    def __post_init__(self):
        if not self.modes:
            raise SpecError("modes", "needs at least one mode")

    def evaluate(self, grid: Grid) -> np.ndarray:
        return _sum_modes(self.modes, grid, np.cos)


def _sum_modes(modes: tuple[Mode, ...], grid: Grid, basis) -> np.ndarray:
    mesh = grid.mesh()
    total = np.zeros(grid.shape)
    for mode in modes:
        if len(mode.wavenumber) != grid.ndim:
            raise SpecError("modes", f"wavenumber {list(mode.wavenumber)} needs {grid.ndim} entries")
        term = np.full(grid.shape, mode.amplitude)
        for k, x, length in zip(mode.wavenumber, mesh, grid.lengths()):
            term = term * basis(k * math.pi * x / length)
        total += term
    return total


@dataclasses.dataclass(frozen=True, kw_only=True)
class Gaussian:
    """``offset + amplitude * exp(-|x - center|^2 / (2 width^2))``, lengths in model units."""

    center: tuple[float, ...]
    width: float
    amplitude: float = 1.0
    offset: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.width) and self.width > 0):
            raise SpecError("width", f"must be positive, got {self.width!r}")
        for key in ("amplitude", "offset"):
            _check_finite(key, getattr(self, key))
        for c in self.center:
            _check_finite("center", c)

    def evaluate(self, grid: Grid) -> np.ndarray:
        if len(self.center) != grid.ndim:
            raise SpecError("center", f"needs {grid.ndim} entries, got {list(self.center)}")
        squared = sum((x - c) ** 2 for x, c in zip(grid.mesh(), self.center))
        return self.offset + self.amplitude * np.exp(-squared / (2 * self.width**2))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Constant:
    """The same value at every node."""

    value: float

    def __post_init__(self):
        _check_finite("value", self.value)

    def evaluate(self, grid: Grid) -> np.ndarray:
        return np.full(grid.shape, float(self.value))


Profile = SineModes | CosineModes | Gaussian | Constant
