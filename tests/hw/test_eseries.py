"""Tests for the IEC 60063 E-series tables and quantization."""

import math

import numpy as np
import pytest

from npdehw.hw.eseries import (
    E6,
    E12,
    E24,
    E48,
    E96,
    E192,
    SERIES,
    ESeries,
    get_series,
    is_series_value,
    quantize,
)

TABLES = {"E6": E6, "E12": E12, "E24": E24, "E48": E48, "E96": E96, "E192": E192}

EXPECTED_TOLERANCE = {
    "E6": 0.20,
    "E12": 0.10,
    "E24": 0.05,
    "E48": 0.02,
    "E96": 0.01,
    "E192": 0.005,
}

# Each series paired with the next larger series of the same family.
SUBSET_PAIRS = [(E6, E12), (E12, E24), (E48, E96), (E96, E192)]


def _widest_log10_gap(mantissas):
    """Return the widest log10 gap between neighbours, including 9.x to 10."""
    extended = np.array(mantissas + (10.0,))
    return float(np.max(np.diff(np.log10(extended))))


@pytest.mark.parametrize("name", list(TABLES))
def test_table_length_matches_name(name):
    """Each table has as many mantissas as the number in its name."""
    assert len(TABLES[name]) == int(name[1:])


@pytest.mark.parametrize("name", list(TABLES))
def test_table_strictly_increasing_in_decade(name):
    """Each table is strictly increasing and lies in [1.0, 10)."""
    table = TABLES[name]
    assert table[0] == 1.0
    assert table[-1] < 10.0
    assert all(a < b for a, b in zip(table, table[1:]))


def test_two_digit_tables_exact():
    """E6, E12 and E24 equal the published two-digit values."""
    assert E6 == (1.0, 1.5, 2.2, 3.3, 4.7, 6.8)
    assert E12 == (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
    assert E24 == (
        1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0,
        3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1,
    )  # fmt: skip


def test_e24_published_values_present():
    """E24 contains the published values from 2.7 to 9.1."""
    for value in (2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1):
        assert value in E24
    assert 4.3 in E24
    assert 9.1 in E24


def test_e24_differs_from_geometric_rounding():
    """Exactly eight E24 values differ from round(10**(i/24), 1)."""
    differing = [m for i, m in enumerate(E24) if m != round(10 ** (i / 24), 1)]
    assert differing == [2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7, 8.2]


def test_three_digit_known_values():
    """E96 and E192 contain known published values."""
    for value in (1.02, 4.99, 9.76):
        assert value in E96
    assert 9.20 in E192
    assert 9.19 not in E192


@pytest.mark.parametrize("name", ["E48", "E96", "E192"])
def test_three_digit_tables_follow_formula(name):
    """E48, E96, E192 equal round(10**(i/N), 2), except E192's 9.20."""
    table = TABLES[name]
    count = len(table)
    for i, mantissa in enumerate(table):
        expected = round(10 ** (i / count), 2)
        if name == "E192" and i == 185:
            assert expected == 9.19
            assert mantissa == 9.20
        else:
            assert mantissa == expected, f"{name}[{i}]"


@pytest.mark.parametrize(("smaller", "larger"), SUBSET_PAIRS)
def test_series_subset_of_next(smaller, larger):
    """Each series is a subset of the next larger series of its family."""
    assert set(smaller) <= set(larger)
    assert set(larger[::2]) == set(smaller)


@pytest.mark.parametrize("name", list(TABLES))
def test_registry_series_fields(name):
    """The registry stores each table with its name and tolerance."""
    series = get_series(name)
    assert series.name == name
    assert series.mantissas == TABLES[name]
    assert series.tolerance == EXPECTED_TOLERANCE[name]
    assert SERIES[name] is series


def test_get_series_case_insensitive():
    """get_series accepts lower case and surrounding whitespace."""
    assert get_series("e24") is SERIES["E24"]
    assert get_series(" E192 ") is SERIES["E192"]
    assert get_series("e96").name == "E96"


def test_get_series_unknown_name_lists_valid():
    """An unknown series name raises ValueError listing the valid names."""
    with pytest.raises(ValueError) as info:
        get_series("E13")
    message = str(info.value)
    assert "E13" in message
    for name in TABLES:
        assert name in message


def test_eseries_is_frozen():
    """ESeries instances cannot be modified."""
    series = get_series("E12")
    with pytest.raises(AttributeError):
        series.tolerance = 0.5


def test_eseries_rejects_invalid_mantissas():
    """ESeries rejects unsorted or out-of-decade mantissas."""
    with pytest.raises(ValueError):
        ESeries("bad", (1.0, 3.3, 2.2), 0.1)
    with pytest.raises(ValueError):
        ESeries("bad", (1.0, 10.0), 0.1)
    with pytest.raises(ValueError):
        ESeries("bad", (), 0.1)
    with pytest.raises(ValueError):
        ESeries("bad", (1.0, 2.2), 1.5)


def test_values_between_decade_inclusive():
    """values_between returns clean, sorted values including both bounds."""
    values = get_series("E12").values_between(1.0e3, 1.0e4)
    expected = [1000.0, 1200.0, 1500.0, 1800.0, 2200.0, 2700.0, 3300.0,
                3900.0, 4700.0, 5600.0, 6800.0, 8200.0, 10000.0]  # fmt: skip
    assert values.tolist() == expected
    assert values.dtype == np.float64


def test_values_between_small_values_clean():
    """Picofarad-range values equal their decimal literals exactly."""
    values = get_series("E12").values_between(1.0e-12, 1.0e-11)
    assert 4.7e-12 in values.tolist()
    assert 8.2e-12 in values.tolist()
    assert values[0] == 1.0e-12
    assert values[-1] == 1.0e-11


def test_values_between_empty_range():
    """A range between two series values returns an empty array."""
    values = get_series("E6").values_between(1.6e3, 2.1e3)
    assert values.size == 0


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.0, 1.0), (-1.0, 1.0), (10.0, 1.0), (1.0, math.inf), (math.nan, 1.0)],
)
def test_values_between_invalid_range_raises(low, high):
    """Invalid catalogue ranges raise ValueError."""
    with pytest.raises(ValueError):
        get_series("E12").values_between(low, high)


@pytest.mark.parametrize("name", list(TABLES))
def test_quantize_matches_brute_force_nearest(name):
    """quantize picks the candidate nearest in log space for random values."""
    rng = np.random.default_rng(20240607)
    low, high = 1.0e-12, 1.0e6
    values = 10.0 ** rng.uniform(-12.0, 6.0, size=2000)
    candidates = get_series(name).values_between(low, high)

    quantized = quantize(values, name, low, high)

    distances = np.abs(np.log(values)[:, None] - np.log(candidates)[None, :])
    nearest_distance = distances.min(axis=1)
    chosen_distance = np.abs(np.log(quantized) - np.log(values))
    np.testing.assert_allclose(chosen_distance, nearest_distance, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(TABLES))
def test_quantize_error_at_most_half_step(name):
    """Log10 quantization error is at most half the widest series step."""
    rng = np.random.default_rng(7)
    values = 10.0 ** rng.uniform(-11.0, 5.0, size=5000)
    count = len(TABLES[name])

    quantized = quantize(values, name, 1.0e-12, 1.0e6)

    error = np.max(np.abs(np.log10(quantized / values)))
    # The rounded tables widen some steps beyond 1/N decade (E24 has 1.3 to
    # 1.5, which is 1.49 nominal steps), so 0.5/N needs a slack. The slack is
    # half the widest step minus 0.5/N, and E24 has the largest, 0.0103 decade.
    half_widest_step = 0.5 * _widest_log10_gap(TABLES[name])
    slack = half_widest_step - 0.5 / count
    assert slack < 0.011
    assert error <= 0.5 / count + slack + 1e-12
    # The sample must come close to the bound, or the check above is vacuous.
    assert error >= 0.4 / count


@pytest.mark.parametrize("name", list(TABLES))
def test_quantize_series_values_unchanged(name):
    """Exact series values across several decades map to themselves."""
    series = get_series(name)
    values = series.values_between(1.0e-12, 1.0e6)

    quantized = quantize(values, series, 1.0e-12, 1.0e6)

    assert quantized.tolist() == values.tolist()


def test_quantize_clean_decimal_results():
    """Results equal their decimal literals, so netlists show clean numbers."""
    values = np.array([1.0e3, 4.7e3, 4.69e3, 4.7e-9, 3.3e-12, 0.47])
    quantized = quantize(values, "E12", 1.0e-12, 1.0e6)
    assert quantized.tolist() == [1000.0, 4700.0, 4700.0, 4.7e-9, 3.3e-12, 0.47]
    assert repr(float(quantized[3])) == "4.7e-09"


def test_quantize_decade_edge_rounds_up():
    """9.9e3 in E12 rounds up to 1.0e4, the first value of the next decade."""
    quantized = quantize(np.array([9.9e3]), "E12", 1.0, 1.0e6)
    assert quantized.tolist() == [1.0e4]


def test_quantize_decade_edge_rounds_down():
    """1.05e3 in E12 rounds down to 1.0e3 because sqrt(1.2) is about 1.095."""
    quantized = quantize(np.array([1.05e3, 1.1e3]), "E12", 1.0, 1.0e6)
    assert quantized.tolist() == [1.0e3, 1.2e3]


def test_quantize_uses_log_distance_not_linear():
    """3.95 in E6 rounds to 4.7, though 3.3 is nearer in linear distance."""
    # The geometric midpoint of 3.3 and 4.7 is about 3.938, the linear one 4.0.
    quantized = quantize(np.array([3.95, 3.93]), "E6", 1.0, 10.0)
    assert quantized.tolist() == [4.7, 3.3]


def test_quantize_preserves_shape_and_dtype():
    """quantize returns a float array with the input's shape."""
    values = np.array([[1.1e3, 2.0e3], [3.0e3, 5.0e3]])
    quantized = quantize(values, "E6", 1.0, 1.0e6)
    assert quantized.shape == (2, 2)
    assert quantized.dtype == np.float64
    assert quantized.tolist() == [[1.0e3, 2.2e3], [3.3e3, 4.7e3]]


def test_quantize_accepts_list_and_scalar():
    """quantize accepts a Python list and a scalar."""
    assert quantize([1.0e3, 2.0e3], "E6", 1.0, 1.0e6).tolist() == [1.0e3, 2.2e3]
    scalar = quantize(4.8e-9, "E12", 1.0e-12, 1.0e-6)
    assert scalar.shape == ()
    assert float(scalar) == 4.7e-9


def test_quantize_above_range_raises():
    """A value above the catalogue range raises and names value and fix."""
    with pytest.raises(ValueError) as info:
        quantize(np.array([1.0e3, 2.0e7]), "E24", 1.0, 1.0e6)
    message = str(info.value)
    assert "2e+07" in message
    assert "[1, 1e+06]" in message
    assert "Widen the range" in message
    assert "scaling" in message


def test_quantize_below_range_raises():
    """A value below the catalogue range raises instead of clipping."""
    with pytest.raises(ValueError) as info:
        quantize(np.array([1.0e-13]), "E24", 1.0e-12, 1.0e-6)
    message = str(info.value)
    assert "1e-13" in message
    assert "Widen the range" in message


def test_quantize_range_error_names_first_value():
    """The range error names the first offending value in order."""
    with pytest.raises(ValueError) as info:
        quantize(np.array([5.0, 0.5, 2.0e7]), "E12", 1.0, 1.0e6)
    message = str(info.value)
    assert "0.5" in message
    assert "2e+07" not in message
    assert "(1,)" in message


def test_quantize_near_bound_round_off_accepted():
    """A value off a range bound only by round-off maps to that bound."""
    quantized = quantize(np.array([1.0e6 * (1 + 1e-12)]), "E12", 1.0, 1.0e6)
    assert quantized.tolist() == [1.0e6]


def test_quantize_beyond_outer_candidate():
    """A value between a range bound and the outermost candidate maps to it."""
    quantized = quantize(np.array([1.05e3, 1.95e3]), "E6", 1.05e3, 1.95e3)
    assert quantized.tolist() == [1.5e3, 1.5e3]


@pytest.mark.parametrize(
    ("bad", "text"),
    [(0.0, "0.0"), (-1.0, "-1.0"), (math.nan, "nan"), (math.inf, "inf")],
)
def test_quantize_non_positive_raises(bad, text):
    """Zero, negative and non-finite values raise with the value in the message."""
    with pytest.raises(ValueError) as info:
        quantize(np.array([1.0e3, bad]), "E12", 1.0, 1.0e6)
    message = str(info.value)
    assert text in message
    assert "(1,)" in message


def test_quantize_empty_candidate_range_raises():
    """A catalogue range with no series value raises ValueError."""
    with pytest.raises(ValueError) as info:
        quantize(np.array([1.8e3]), "E6", 1.6e3, 2.1e3)
    assert "E6" in str(info.value)


def test_quantize_unknown_series_raises():
    """quantize raises ValueError for an unknown series name."""
    with pytest.raises(ValueError):
        quantize(np.array([1.0e3]), "E7", 1.0, 1.0e6)


def test_is_series_value_true_cases():
    """is_series_value accepts series values in any decade."""
    assert is_series_value(4.7e-9, "E12")
    assert is_series_value(4990.0, "E96")
    assert is_series_value(9.2e2, "E192")
    assert is_series_value(1.0e4, get_series("E6"))
    assert is_series_value(0.1 * 3, "E24")


def test_is_series_value_false_cases():
    """is_series_value rejects values not in the series and invalid values."""
    assert not is_series_value(5.0e3, "E96")
    assert not is_series_value(9.19e2, "E192")
    assert not is_series_value(4.3e3, "E12")
    assert not is_series_value(0.0, "E12")
    assert not is_series_value(-4.7e3, "E12")
    assert not is_series_value(math.nan, "E12")
    assert not is_series_value(math.inf, "E12")


def test_is_series_value_round_off_below_decade():
    """A value just below 10**k from round-off matches mantissa 1.0."""
    assert is_series_value(999.9999999999, "E6")
    assert not is_series_value(999.0, "E6")


def test_is_series_value_rel_tol():
    """rel_tol widens the match window."""
    assert not is_series_value(4.71e3, "E12")
    assert is_series_value(4.71e3, "E12", rel_tol=0.01)
