"""Part draws of the Monte Carlo sweep: distributions, bounds and seeds, without ngspice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from npdehw.design import load_design
from npdehw.hw.builder import build_circuit
from npdehw.pipeline import round_design
from npdehw.sim.sweep_perturb import perturb_parts, unit_deviations
from npdehw.sim.sweep_sample import sample_rng

DRAWS = 40_000


def test_uniform_deviations_fill_the_tolerance(rng):
    """Uniform draws lie in [-1, 1] with the standard deviation 1 / sqrt(3)."""
    values = unit_deviations(DRAWS, "uniform", rng)
    assert values.min() >= -1.0
    assert values.max() <= 1.0
    assert values.min() < -0.999
    assert values.max() > 0.999
    assert abs(values.mean()) < 0.01
    assert values.std() == pytest.approx(1 / np.sqrt(3), rel=0.02)


def test_normal_deviations_truncated_at_three_sigma(rng):
    """Normal draws have sigma 1/3 truncated at 1: scipy's truncnorm gives the spread."""
    values = unit_deviations(DRAWS, "normal", rng)
    assert np.abs(values).max() <= 1.0
    expected_std = stats.truncnorm(-3, 3).std() / 3
    assert values.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(values.mean()) < 0.01
    # Share beyond 2 sigma (2/3 here) of a normal truncated at 3 sigma:
    # (P(|z| > 2) - P(|z| > 3)) / P(|z| <= 3), about 4.30 %.
    beyond = np.mean(np.abs(values) > 2 / 3)
    assert beyond == pytest.approx((2 * stats.norm.sf(2) - 2 * stats.norm.sf(3))
                                   / (1 - 2 * stats.norm.sf(3)), abs=0.006)


def test_unknown_distribution_rejected(rng):
    """A misspelt distribution raises ValueError naming the choices."""
    with pytest.raises(ValueError, match="normal"):
        unit_deviations(4, "gaussian", rng)


@pytest.fixture(scope="module")
def rounded_heat1d():
    """The bundled heat1d circuit rounded to E96 resistors and E12 capacitors."""
    design = load_design("heat1d")
    return round_design(design, build_circuit(design.npde, design.mapping))


def _values(graph, kind):
    return np.array([d["value"] for _, _, d in graph.edges(data=True) if d["kind"] == kind])


def test_parts_stay_within_series_tolerance(rounded_heat1d):
    """E96 resistors move at most 1 % and E12 capacitors at most 10 %, all of them."""
    before_r = _values(rounded_heat1d, "resistor")
    before_c = _values(rounded_heat1d, "capacitor")
    perturbed = perturb_parts(rounded_heat1d, np.random.default_rng(1), "uniform")
    change_r = _values(perturbed, "resistor") / before_r - 1
    change_c = _values(perturbed, "capacitor") / before_c - 1
    assert np.abs(change_r).max() <= 0.01 * (1 + 1e-12)
    assert np.abs(change_c).max() <= 0.10 * (1 + 1e-12)
    assert np.abs(change_r).max() > 0.009
    assert np.abs(change_c).max() > 0.09
    assert np.all(change_r != 0)
    assert np.array_equal(_values(rounded_heat1d, "resistor"), before_r)


def test_override_replaces_series_tolerance(rounded_heat1d):
    """A capacitor override of 1 % narrows the capacitor spread from the E12 10 %."""
    perturbed = perturb_parts(rounded_heat1d, np.random.default_rng(2), "uniform",
                              {"capacitor": 0.01})
    change = _values(perturbed, "capacitor") / _values(rounded_heat1d, "capacitor") - 1
    assert np.abs(change).max() <= 0.01 * (1 + 1e-12)
    assert np.abs(change).max() > 0.009


def test_sources_and_ideal_values_untouched(rounded_heat1d):
    """Voltage sources and the recorded ideal values do not move."""
    perturbed = perturb_parts(rounded_heat1d, np.random.default_rng(3), "normal")
    for (_, _, before), (_, _, after) in zip(rounded_heat1d.edges(data=True),
                                             perturbed.edges(data=True)):
        assert before["designator"] == after["designator"]
        if before["kind"] not in ("resistor", "capacitor"):
            assert after["value"] == before["value"]
        else:
            assert after["ideal_value"] == before["ideal_value"]


def test_sample_seeds_are_distinct_and_repeatable():
    """Each (seed, sample) pair gives its own stream, and the same pair the same stream."""
    first = sample_rng(0, 1).random(4)
    assert np.array_equal(first, sample_rng(0, 1).random(4))
    assert not np.array_equal(first, sample_rng(0, 2).random(4))
    assert not np.array_equal(first, sample_rng(1, 1).random(4))
