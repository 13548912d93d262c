"""Yield statistics of a sweep: the Wilson interval and the per-setting summary."""

from __future__ import annotations

import pytest

from npdehw.sweep_summary import setting_summary, wilson_interval

Z_95 = 1.959963984540054


@pytest.mark.parametrize("total", [1, 8, 200])
def test_wilson_bounds_at_zero_and_full_yield(total):
    """Closed forms: upper bound z^2 / (n + z^2) at 0 of n, lower n / (n + z^2) at n of n."""
    z2 = Z_95 ** 2
    assert wilson_interval(0, total) == pytest.approx((0.0, z2 / (total + z2)), abs=1e-12)
    assert wilson_interval(total, total) == pytest.approx((total / (total + z2), 1.0),
                                                          abs=1e-12)


def test_wilson_matches_scipy():
    """The interval agrees with scipy's binomtest(...).proportion_ci(method='wilson')."""
    from scipy.stats import binomtest

    for passed, total in ((81, 263), (15, 148), (1, 29), (195, 200), (3, 7)):
        interval = binomtest(passed, total).proportion_ci(method="wilson")
        assert wilson_interval(passed, total) == pytest.approx((interval.low, interval.high),
                                                               abs=1e-12)


def _record(sample, value=None, error=None):
    if error is not None:
        return {"sample": sample, "status": "failed", "error": error}
    return {"sample": sample, "status": "done", "error": None,
            "figures": {"relative_l2": value}}


def test_summary_counts_yield_and_failures():
    """Failed samples stay out of the yield; samples beyond --samples are ignored."""
    records = [_record(-1, 0.004), _record(0, 0.002), _record(1, 0.02), _record(2, 0.009),
               _record(3, error="SimulationError: x\nerror: singular matrix"),
               _record(9, 0.5)]
    summary = setting_summary(records, "relative_l2", 0.01, samples=5)
    assert summary["samples_done"] == 3
    assert summary["samples_failed"] == 1
    assert summary["samples_missing"] == 1
    assert summary["passed"] == 2
    assert summary["yield"] == pytest.approx(2 / 3)
    assert summary["statistics"]["max"] == 0.02
    assert summary["nominal"] == {"relative_l2": 0.004}
    assert summary["failures"][0]["sample"] == 3
