"""Shared fixtures: a seeded random generator and the bundled heat1d design."""

import numpy as np
import pytest

from npdehw.design import load_design


@pytest.fixture
def rng():
    """A numpy generator with a fixed seed."""
    return np.random.default_rng(20261204)


@pytest.fixture
def heat1d():
    """The bundled heat1d design."""
    return load_design("heat1d")
