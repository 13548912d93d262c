"""The NARMA task generator against its defining recurrence."""

import numpy as np
import pytest

from npdehw.models.narma import NarmaDivergence, narma_series, narma_targets


def recurrence(u, order):
    """Return y(t + 1) for t = 0 .. len(u) - 1, written in the textbook's time index.

    y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{order-1} y(t-i) + 1.5 u(t-order+1) u(t) + 0.1,
    with y(t) = 0 for t <= 0 and u(t) = 0 for t < 0.
    """
    y = {t: 0.0 for t in range(-order, 1)}

    def u_at(t):
        return u[t] if t >= 0 else 0.0

    for t in range(len(u)):
        history = sum(y[t - i] for i in range(order))
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * history + 1.5 * u_at(t - order + 1) * u_at(t) + 0.1
    return np.array([y[t + 1] for t in range(len(u))])


@pytest.mark.parametrize("order", [10, 5])
def test_narma_matches_recurrence(rng, order):
    """Targets equal the recurrence evaluated in the textbook's indexing."""
    u = rng.uniform(0.0, 0.5, 400)
    np.testing.assert_allclose(narma_targets(u, order), recurrence(u, order), rtol=1e-13)


def test_narma10_first_values_by_hand():
    """The first targets, worked by hand: 0.1, then 0.3*0.1 + 0.05*0.1*0.1 + 0.1."""
    u = np.full(12, 0.5)
    y = narma_targets(u, 10)
    assert y[0] == pytest.approx(0.1, abs=1e-15)
    assert y[1] == pytest.approx(0.1305, abs=1e-15)
    # The product 1.5 u(t-9) u(t) first appears at t = 9.
    without_product = 0.3 * y[8] + 0.05 * y[8] * y[:9].sum() + 0.1
    assert y[9] == pytest.approx(without_product + 1.5 * 0.25, abs=1e-14)


def test_narma_series_is_seeded():
    """Equal seeds give equal series, inputs lie in [0, 0.5], other seeds differ."""
    u1, y1 = narma_series(300, 10, seed=3)
    u2, y2 = narma_series(300, 10, seed=3)
    u3, _ = narma_series(300, 10, seed=4)
    np.testing.assert_array_equal(u1, u2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(u1, u3)
    assert u1.min() >= 0.0
    assert u1.max() <= 0.5


def test_narma_divergence_is_reported():
    """Inputs far outside [0, 0.5] make the series blow up, and that raises."""
    with pytest.raises(NarmaDivergence, match="diverged"):
        narma_targets(np.full(200, 3.0), 10)
