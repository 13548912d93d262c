"""Shared fixtures: a seeded random generator and small designs built in code."""

import dataclasses

import numpy as np
import pytest

from npdehw.design import load_design
from npdehw.models.grid import Grid


@pytest.fixture
def rng():
    """A numpy generator with a fixed seed."""
    return np.random.default_rng(20261204)


def resized(design, shape, **simulation):
    """Return ``design`` on a grid of ``shape`` nodes over the same domain length."""
    grid = design.npde.grid
    lengths = grid.lengths()
    walls = [sum(1.0 if grid.boundaries[f"{axis}_{end}"].is_dirichlet else 0.5
                 for end in ("low", "high")) for axis in "xy"[:grid.ndim]]
    spacing = tuple(length / (n - 1 + w) for length, n, w in zip(lengths, shape, walls))
    new_grid = dataclasses.replace(grid, shape=tuple(shape), spacing=spacing)
    npde = dataclasses.replace(design.npde, grid=new_grid)
    settings = dataclasses.replace(design.simulation, probes=(), **simulation)
    return dataclasses.replace(design, npde=npde, simulation=settings)


@pytest.fixture
def heat1d():
    """The bundled heat1d design."""
    return load_design("heat1d")
