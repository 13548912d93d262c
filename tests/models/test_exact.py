"""Reference solutions: closed-form modes against the matrix exponential, and continuum gap."""

import dataclasses
import math

import numpy as np
import pytest

from npdehw.models import exact
from npdehw.models.fields import Mode, SineModes


def test_modes_match_expm(heat1d):
    """The closed-form discrete modes equal exp(t A) u0 computed by SciPy."""
    times = np.linspace(0, heat1d.diffusion.end_time, 11)
    closed = exact.semi_discrete_modes(heat1d.diffusion, times)
    numeric = exact.semi_discrete_expm(heat1d.diffusion, times)
    np.testing.assert_allclose(closed, numeric, rtol=0, atol=1e-12)


def test_modes_are_eigenvectors(heat1d):
    """A u for the first sine mode equals minus its discrete rate times the mode."""
    npde = heat1d.diffusion
    matrix, constant = npde.operator()
    h = npde.grid.spacing[0]
    x = npde.grid.coordinates()[0]
    mode = np.sin(math.pi * x)
    rate = 4 / h**2 * math.sin(math.pi * h / 2) ** 2
    np.testing.assert_allclose(matrix @ mode, -rate * mode, rtol=0, atol=1e-9)
    assert np.all(constant == 0)


def test_continuum_gap_is_second_order(heat1d):
    """For one sine mode, semi-discrete over continuum grows as exp(t pi^2 (pi h)^2 / 12)."""
    npde = dataclasses.replace(heat1d.diffusion, initial=SineModes(modes=(Mode(wavenumber=(1,),
                                                                              amplitude=1.0),)))
    h, t = npde.grid.spacing[0], npde.end_time
    times = np.array([t])
    ratio = exact.semi_discrete_modes(npde, times) / exact.continuum_modes(npde, times)
    predicted = math.pi**2 * t * (math.pi * h) ** 2 / 12
    np.testing.assert_allclose(ratio - 1, predicted, rtol=0.02)
