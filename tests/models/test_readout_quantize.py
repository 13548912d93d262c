"""Pseudoinverse readouts and the straight-through rounding used in hardware-aware training."""

import numpy as np
import pytest
import torch

from npdehw.hw.eseries import get_series
from npdehw.models.parametrize import nearest_level, relative_noise, straight_through
from npdehw.models.readout import fit_readout


def test_pseudoinverse_recovers_a_known_linear_map():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 6))
    weight = rng.normal(size=(6, 2))
    targets = features @ weight + np.array([0.3, -1.0])
    readout = fit_readout(features, targets)
    assert readout.weight == pytest.approx(weight, abs=1e-10)
    assert readout.bias == pytest.approx([0.3, -1.0], abs=1e-10)


def test_pseudoinverse_learns_from_rank_deficient_features():
    # The third feature repeats the first, so the minimum-norm solution splits its weight.
    rng = np.random.default_rng(1)
    base = rng.normal(size=(50, 2))
    features = np.column_stack([base, base[:, 0]])
    readout = fit_readout(features, 2.0 * base[:, 0] + base[:, 1])
    assert readout.weight == pytest.approx([1.0, 1.0, 1.0], abs=1e-9)
    assert np.max(np.abs(readout(features) - (2.0 * base[:, 0] + base[:, 1]))) < 1e-9


def test_ridge_shrinks_weights_towards_zero():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(30, 4))
    targets = features @ np.ones(4) + 0.1 * rng.normal(size=30)
    plain = fit_readout(features, targets)
    ridge = fit_readout(features, targets, ridge=100.0)
    assert np.linalg.norm(ridge.weight) < 0.5 * np.linalg.norm(plain.weight)


def test_nearest_series_value_matches_e24_table():
    # Published E24 values around 1 kOhm: 910, 1000, 1100.
    values = torch.tensor([949.0, 960.0, 1040.0, 1060.0], dtype=torch.float64)
    levels = get_series("E24").values_between(100.0, 10e3)
    rounded = nearest_level(values, levels, log=True)
    assert rounded.tolist() == [910.0, 1000.0, 1000.0, 1100.0]


def test_straight_through_passes_the_gradient_unchanged():
    values = torch.tensor([0.12, 0.61], dtype=torch.float64, requires_grad=True)
    rounded = straight_through(values, nearest_level(values, [0.0, 0.5, 1.0]))
    assert rounded.tolist() == [0.0, 0.5]
    (rounded * torch.tensor([2.0, 3.0], dtype=torch.float64)).sum().backward()
    assert values.grad.tolist() == [2.0, 3.0]


def test_relative_noise_has_the_requested_spread():
    values = torch.full((20000,), 5.0, dtype=torch.float64)
    noisy = relative_noise(values, 0.02, torch.Generator().manual_seed(0))
    assert float(noisy.std() / 5.0) == pytest.approx(0.02, rel=0.05)
    assert float(noisy.mean()) == pytest.approx(5.0, rel=1e-3)
