"""Seeded smooth random fields: range, reproducibility and smoothness."""

import numpy as np
import pytest

from npdehw.models.smooth_field import smooth_factors, smooth_field


def test_factors_span_the_range():
    """The smallest factor is low and the largest high, in log scale between them."""
    points = np.stack(np.meshgrid(np.arange(16), np.arange(16)), axis=-1).reshape(-1, 2)
    factors = smooth_factors(points, 4.0, seed=3, low=0.5, high=2.0)
    assert factors.min() == pytest.approx(0.5, rel=1e-12)
    assert factors.max() == pytest.approx(2.0, rel=1e-12)


def test_same_seed_same_field():
    """Equal seeds give equal fields, and other seeds other fields."""
    points = np.random.default_rng(0).uniform(0, 10, (50, 2))
    first = smooth_field(points, 3.0, seed=1)
    np.testing.assert_array_equal(first, smooth_field(points, 3.0, seed=1))
    assert np.abs(first - smooth_field(points, 3.0, seed=2)).max() > 0.1


def test_field_is_smooth_at_its_length():
    """Neighbours a tenth of the correlation length apart differ far less than the spread."""
    x = np.arange(0, 40, 0.4)[:, None]
    field = smooth_field(x, 4.0, seed=5)
    assert np.abs(np.diff(field)).max() < 0.2 * (field.max() - field.min())
