"""Readout scoring on a time series: split, NMSE, delay line and a known linear filter."""

import numpy as np
import pytest

from npdehw.models.series_readout import SeriesSplit, delay_line, nmse, score_readout


def test_split_parts_follow_each_other():
    """Washout, training and test parts are consecutive and cover the series."""
    split = SeriesSplit(washout=5, train=20, test=7)
    assert split.total == 32
    assert split.train_part == slice(5, 25)
    assert split.test_part == slice(25, 32)


def test_nmse_of_mean_prediction_is_one(rng):
    """Predicting the target's own mean gives NMSE 1; the target itself gives 0."""
    target = rng.normal(size=100)
    assert nmse(np.full(100, target.mean()), target) == pytest.approx(1.0, rel=1e-12)
    assert nmse(target, target) == 0.0


def test_delay_line_columns_are_past_inputs():
    """Column i is the input i samples ago, zero before the start."""
    features = delay_line([1.0, 2.0, 3.0, 4.0], 3)
    expected = [[1, 0, 0], [2, 1, 0], [3, 2, 1], [4, 3, 2]]
    np.testing.assert_array_equal(features, expected)


def test_readout_recovers_linear_filter(rng):
    """A target that is a linear filter of the input is fitted exactly from a delay line."""
    u = rng.uniform(0, 0.5, 300)
    target = 0.7 * u - 0.2 * np.concatenate([[0, 0], u[:-2]]) + 0.1
    split = SeriesSplit(washout=10, train=200, test=90)
    readout, score, prediction = score_readout(delay_line(u, 4), target, split, ridge=0.0)
    np.testing.assert_allclose(readout.weight, [0.7, 0.0, -0.2, 0.0], atol=1e-10)
    assert readout.bias == pytest.approx(0.1, abs=1e-10)
    assert score < 1e-18
    np.testing.assert_allclose(prediction, target[split.test_part], atol=1e-10)


def test_readout_scored_on_other_features(rng):
    """With test_features the readout fitted on one set is scored on another."""
    x = rng.normal(size=(120, 2))
    target = 2 * x[:, 0] - 3 * x[:, 1]
    split = SeriesSplit(washout=0, train=80, test=40)
    _, exact, _ = score_readout(x, target, split, ridge=0.0)
    _, shifted, _ = score_readout(x, target, split, ridge=0.0, test_features=x + 0.1)
    assert exact < 1e-20
    # A constant shift of 0.1 in both features moves each prediction by 2*0.1 - 3*0.1.
    expected = 0.01 / np.var(target[split.test_part])
    assert shifted == pytest.approx(expected, rel=1e-9)
