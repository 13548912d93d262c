"""Tests for the memristor device model and the crossbar mapping of weight matrices."""

import csv
import io
import math

import numpy as np
import pytest

from npdehw.errors import SpecError
from npdehw.hw.crossbar import (
    PROGRAMMING_TABLE_COLUMNS,
    apply_nonidealities,
    ideal_column_currents,
    map_weights,
    programming_table,
    programming_table_csv,
    tile_mapping,
    tiled_column_currents,
    weights_from_currents,
)
from npdehw.hw.devices import DeviceSpec, quantize_conductance

SCHEMES = ("differential", "reference")
SHAPES = ((32, 32), (100, 70))


def relative_error(actual, expected):
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


def binomial_tolerance(n, p):
    """Return four standard deviations of a binomial count."""
    return 4.0 * math.sqrt(n * p * (1.0 - p))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("shape", SHAPES)
def test_unquantized_product_exact(rng, scheme, shape):
    """Column currents of the unquantized mapping give W x to 1e-12."""
    weight = rng.standard_normal(shape)
    x = rng.standard_normal((shape[1], 5))
    mapping = map_weights(weight, DeviceSpec(), scheme=scheme, quantize=False)
    voltage_scale_v = 0.2
    currents = ideal_column_currents(mapping.programmed_s, voltage_scale_v * x)
    outputs = weights_from_currents(mapping, currents, voltage_scale_v=voltage_scale_v)
    assert outputs.shape == (shape[0], 5)
    assert relative_error(outputs, weight @ x) < 1e-12
    assert relative_error(mapping.effective_weight(), weight) < 1e-12


@pytest.mark.parametrize("scheme", SCHEMES)
def test_single_input_vector(rng, scheme):
    """A 1-D input gives a 1-D output."""
    weight = rng.standard_normal((6, 4))
    x = rng.standard_normal(4)
    mapping = map_weights(weight, DeviceSpec(), scheme=scheme, quantize=False)
    currents = ideal_column_currents(mapping.programmed_s, x)
    outputs = weights_from_currents(mapping, currents)
    assert outputs.shape == (6,)
    assert relative_error(outputs, weight @ x) < 1e-12


def test_differential_layout(rng):
    """Differential columns alternate G+ and G- and the largest |W| spans the range."""
    device = DeviceSpec()
    weight = np.array([[2.0, -1.0, 0.0], [-4.0, 0.5, 1.0]])
    mapping = map_weights(weight, device, quantize=False)
    span = device.g_max_s - device.g_min_s
    assert mapping.programmed_s.shape == (3, 4)
    assert mapping.column_roles == ("+", "-", "+", "-")
    assert mapping.column_outputs.tolist() == [0, 0, 1, 1]
    assert mapping.scale_s_per_weight == pytest.approx(span / 4.0)
    # The largest |W| = 4 is at output 1, input 0, so that G- is g_max.
    assert mapping.target_s[0, 3] == pytest.approx(device.g_max_s)
    assert mapping.target_s[0, 2] == device.g_min_s
    assert mapping.target_s[0, 0] == pytest.approx(device.g_min_s + span / 2)
    assert mapping.target_s[0, 1] == device.g_min_s
    assert np.all(mapping.target_s >= device.g_min_s)
    assert np.all(mapping.target_s <= device.g_max_s)


def test_reference_layout():
    """The reference scheme adds one mid-conductance column after the outputs."""
    device = DeviceSpec()
    weight = np.array([[2.0, -1.0, 0.0], [-4.0, 0.5, 1.0]])
    mapping = map_weights(weight, device, scheme="reference", quantize=False)
    g_ref = (device.g_min_s + device.g_max_s) / 2
    assert mapping.programmed_s.shape == (3, 3)
    assert mapping.column_roles == ("+", "+", "ref")
    assert mapping.column_outputs.tolist() == [0, 1, -1]
    assert mapping.g_ref_s == g_ref
    assert np.all(mapping.target_s[:, 2] == g_ref)
    assert mapping.target_s[0, 1] == pytest.approx(device.g_min_s)
    assert mapping.target_s[2, 0] == g_ref


def test_zero_matrix_maps():
    """An all-zero matrix maps to zero effective weights."""
    mapping = map_weights(np.zeros((3, 2)), DeviceSpec())
    assert np.all(mapping.effective_weight() == 0.0)


def test_level_values_linear():
    """Linear levels are equally spaced from g_min to g_max."""
    device = DeviceSpec(g_min_s=1e-6, g_max_s=1e-4, levels=5)
    levels = device.level_values()
    assert levels.shape == (5,)
    assert levels[0] == 1e-6
    assert levels[-1] == 1e-4
    assert np.allclose(np.diff(levels), (1e-4 - 1e-6) / 4, rtol=1e-12, atol=0)


def test_level_values_geometric():
    """Log levels have a constant ratio from g_min to g_max."""
    device = DeviceSpec(levels=9, level_spacing="log")
    levels = device.level_values()
    ratios = levels[1:] / levels[:-1]
    assert levels[0] == device.g_min_s
    assert levels[-1] == device.g_max_s
    assert np.allclose(ratios, 100.0 ** (1 / 8), rtol=1e-12, atol=0)


@pytest.mark.parametrize("spacing", ("linear", "log"))
@pytest.mark.parametrize("scheme", SCHEMES)
def test_quantized_values_are_levels(rng, spacing, scheme):
    """Quantized conductances take at most `levels` values, each a level."""
    device = DeviceSpec(levels=8, level_spacing=spacing)
    mapping = map_weights(rng.standard_normal((40, 30)), device, scheme=scheme)
    levels = device.level_values()
    distinct = np.unique(mapping.programmed_s)
    assert distinct.size <= device.levels
    assert np.all(np.isin(distinct, levels))
    assert np.array_equal(levels[mapping.level_index], mapping.programmed_s)
    assert mapping.level_index.min() >= 0
    assert mapping.level_index.max() < device.levels


def test_quantize_nearest_linear():
    """Linear quantization picks the nearest level in conductance."""
    device = DeviceSpec(g_min_s=1.0, g_max_s=4.0, levels=4)
    index, value = quantize_conductance([1.4, 1.6, 3.9, 0.5, 9.0], device)
    assert index.tolist() == [0, 1, 3, 0, 3]
    assert value.tolist() == [1.0, 2.0, 4.0, 1.0, 4.0]


def test_quantize_nearest_log():
    """Log quantization picks the nearest level in log conductance."""
    device = DeviceSpec(g_min_s=1.0, g_max_s=100.0, levels=3, level_spacing="log")
    # 5 is nearer to 10 than to 1 in log, but nearer to 1 in conductance.
    index, value = quantize_conductance([5.0, 2.9, 40.0], device)
    assert index.tolist() == [1, 0, 2]
    assert np.allclose(value, [10.0, 1.0, 100.0], rtol=1e-12)


@pytest.mark.parametrize("spacing", ("linear", "log"))
@pytest.mark.parametrize("scheme", SCHEMES)
def test_error_shrinks_with_levels(rng, spacing, scheme):
    """64 levels give a smaller weight error than 4 levels."""
    weight = rng.standard_normal((40, 30))
    errors = {}
    for levels in (4, 64):
        device = DeviceSpec(levels=levels, level_spacing=spacing)
        mapping = map_weights(weight, device, scheme=scheme)
        errors[levels] = relative_error(mapping.effective_weight(), weight)
    assert errors[64] < errors[4]
    assert errors[64] < 0.5 * errors[4]


def test_programming_noise_std(rng):
    """Programming noise has the requested relative std on 10^4 devices."""
    weight = rng.uniform(-0.3, 0.3, (100, 100))
    weight[0, 0] = 1.0  # keeps the other conductances far from the clipping bounds
    device = DeviceSpec(programming_noise=0.05)
    mapping = map_weights(weight, device, scheme="reference", quantize=False)
    result = apply_nonidealities(mapping, device, seed=7)
    relative = result.conductances_s / mapping.programmed_s - 1.0
    assert relative.size >= 10_000
    assert abs(np.std(relative) / 0.05 - 1.0) < 0.1
    assert abs(np.mean(relative)) < 4 * 0.05 / math.sqrt(relative.size)
    assert not result.stuck.any()


def test_noise_clipped_to_range(rng):
    """Noisy conductances stay inside [g_min, g_max]."""
    device = DeviceSpec(programming_noise=0.5)
    mapping = map_weights(rng.standard_normal((50, 50)), device)
    result = apply_nonidealities(mapping, None, seed=3)
    assert result.conductances_s.min() >= device.g_min_s
    assert result.conductances_s.max() <= device.g_max_s
    assert result.conductances_s.min() == device.g_min_s
    assert result.conductances_s.max() == device.g_max_s


def test_stuck_rates(rng):
    """Stuck-at fault counts match the rates within binomial tolerance."""
    device = DeviceSpec(stuck_min_rate=0.02, stuck_max_rate=0.05)
    mapping = map_weights(rng.standard_normal((100, 50)), device)
    result = apply_nonidealities(mapping, device, seed=11)
    n = mapping.programmed_s.size
    assert n == 10_000
    assert abs(result.stuck_min.sum() - 0.02 * n) < binomial_tolerance(n, 0.02)
    assert abs(result.stuck_max.sum() - 0.05 * n) < binomial_tolerance(n, 0.05)
    assert not np.any(result.stuck_min & result.stuck_max)
    assert np.all(result.conductances_s[result.stuck_min] == device.g_min_s)
    assert np.all(result.conductances_s[result.stuck_max] == device.g_max_s)
    unstuck = ~result.stuck
    assert np.array_equal(result.conductances_s[unstuck], mapping.programmed_s[unstuck])


def test_nonidealities_reproducible(rng):
    """The same seed gives the same perturbation and another seed a different one."""
    device = DeviceSpec(programming_noise=0.1, stuck_min_rate=0.01, stuck_max_rate=0.01)
    mapping = map_weights(rng.standard_normal((20, 30)), device)
    first = apply_nonidealities(mapping, device, seed=5)
    second = apply_nonidealities(mapping, device, seed=5)
    other = apply_nonidealities(mapping, device, seed=6)
    assert np.array_equal(first.conductances_s, second.conductances_s)
    assert np.array_equal(first.stuck_min, second.stuck_min)
    assert np.array_equal(first.stuck_max, second.stuck_max)
    assert not np.array_equal(first.conductances_s, other.conductances_s)


def test_nonidealities_range_mismatch(rng):
    """A device with another conductance range is rejected."""
    mapping = map_weights(rng.standard_normal((3, 3)), DeviceSpec())
    with pytest.raises(ValueError, match="differs from the range"):
        apply_nonidealities(mapping, DeviceSpec(g_max_s=2e-4), seed=0)


def test_perturbed_effective_weight(rng):
    """Effective weights of perturbed conductances differ but stay close."""
    weight = rng.standard_normal((20, 20))
    device = DeviceSpec(programming_noise=0.01)
    mapping = map_weights(weight, device, quantize=False)
    result = apply_nonidealities(mapping, device, seed=1)
    perturbed = mapping.effective_weight(result.conductances_s)
    assert perturbed.shape == weight.shape
    assert 0 < relative_error(perturbed, weight) < 0.1


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tiles_sum_to_product(rng, scheme):
    """Partial currents of 64x64 tiles add up to the full product."""
    weight = rng.standard_normal((100, 70))
    x = rng.standard_normal((70, 3))
    mapping = map_weights(weight, DeviceSpec(), scheme=scheme, quantize=False)
    tiles = tile_mapping(mapping, max_rows=64, max_cols=64)
    full = ideal_column_currents(mapping.programmed_s, x)
    tiled = tiled_column_currents(mapping.programmed_s, tiles, x)
    assert np.allclose(tiled, full, rtol=1e-12, atol=0)
    assert relative_error(weights_from_currents(mapping, tiled), weight @ x) < 1e-12


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tiles_cover_once(rng, scheme):
    """Tiles fit the limits and cover every device exactly once."""
    mapping = map_weights(rng.standard_normal((100, 70)), DeviceSpec(), scheme=scheme)
    tiles = tile_mapping(mapping, max_rows=64, max_cols=64)
    count = np.zeros(mapping.programmed_s.shape, dtype=int)
    for tile in tiles:
        count[tile.rows, tile.columns] += 1
    assert np.all(count == 1)
    assert all(tile.shape[0] <= 64 for tile in tiles)
    assert all(tile.shape[1] <= 64 for tile in tiles)
    assert [tile.index for tile in tiles] == list(range(len(tiles)))


def test_tiles_ragged(rng):
    """A 100x70 differential crossbar has ragged row and column tiles."""
    mapping = map_weights(rng.standard_normal((100, 70)), DeviceSpec())
    tiles = tile_mapping(mapping, max_rows=64, max_cols=64)
    shapes = {tile.shape for tile in tiles}
    # 70 rows and 200 columns: row blocks 64 + 6, column blocks 64 * 3 + 8.
    assert len(tiles) == 8
    assert shapes == {(64, 64), (6, 64), (64, 8), (6, 8)}


@pytest.mark.parametrize("max_cols", (64, 7, 2))
def test_tiles_keep_pairs(rng, max_cols):
    """G+ and G- columns of one output are in the same tile."""
    mapping = map_weights(rng.standard_normal((100, 70)), DeviceSpec())
    tiles = tile_mapping(mapping, max_rows=64, max_cols=max_cols)
    for output in range(mapping.n_outputs):
        plus = mapping.plus_columns[output]
        minus = mapping.minus_columns[output]
        holders = [t for t in tiles if t.column_start <= plus < t.column_stop]
        assert all(t.column_start <= minus < t.column_stop for t in holders)
    assert all(tile.shape[1] <= max_cols for tile in tiles)


def test_tile_limits_rejected(rng):
    """Tile limits that cannot hold one output are rejected."""
    mapping = map_weights(rng.standard_normal((3, 3)), DeviceSpec())
    with pytest.raises(SpecError, match="max_cols") as info:
        tile_mapping(mapping, max_cols=1)
    assert info.value.key == "max_cols"
    with pytest.raises(SpecError, match="max_rows.*got 0"):
        tile_mapping(mapping, max_rows=0)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_programming_table_rows(rng, scheme):
    """The programming table has one row per device with matching values."""
    mapping = map_weights(rng.standard_normal((100, 70)), DeviceSpec(), scheme=scheme)
    tiles = tile_mapping(mapping)
    table = programming_table(mapping, tiles)
    assert len(table) == mapping.programmed_s.size
    assert set(table[0]) == set(PROGRAMMING_TABLE_COLUMNS)
    cells = {(row["row"], row["column"]) for row in table}
    assert len(cells) == mapping.programmed_s.size
    for row in table:
        r, c = row["row"], row["column"]
        assert row["programmed_s"] == mapping.programmed_s[r, c]
        assert row["target_s"] == mapping.target_s[r, c]
        assert row["level_index"] == mapping.level_index[r, c]
        assert row["role"] == mapping.column_roles[c]
        tile = tiles[row["tile"]]
        assert row["tile_row"] == r - tile.row_start
        assert row["tile_column"] == c - tile.column_start
    references = [row for row in table if row["role"] == "ref"]
    if scheme == "reference":
        assert len(references) == 70
        assert all(row["output"] is None for row in references)
    else:
        assert not references


@pytest.mark.parametrize("quantize", (True, False))
def test_programming_csv_round_trip(rng, quantize):
    """The CSV reads back to the same conductances, levels and roles."""
    mapping = map_weights(rng.standard_normal((10, 9)), DeviceSpec(),
                          scheme="reference", quantize=quantize)
    tiles = tile_mapping(mapping, max_rows=4, max_cols=4)
    text = programming_table_csv(mapping, tiles)
    records = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(PROGRAMMING_TABLE_COLUMNS)
    assert len(records) == mapping.programmed_s.size
    programmed = np.full(mapping.programmed_s.shape, np.nan)
    target = np.full(mapping.target_s.shape, np.nan)
    for record in records:
        r, c = int(record["row"]), int(record["column"])
        programmed[r, c] = float(record["programmed_s"])
        target[r, c] = float(record["target_s"])
        assert record["role"] == mapping.column_roles[c]
        if mapping.column_outputs[c] < 0:
            assert record["output"] == ""
        else:
            assert int(record["output"]) == mapping.column_outputs[c]
        if quantize:
            assert int(record["level_index"]) == mapping.level_index[r, c]
        else:
            assert record["level_index"] == ""
    assert np.array_equal(programmed, mapping.programmed_s)
    assert np.array_equal(target, mapping.target_s)


@pytest.mark.parametrize(
    ("changes", "key", "value_text"),
    [
        ({"g_min_s": 1e-4, "g_max_s": 1e-4}, "g_max_s", "0.0001"),
        ({"g_min_s": 2e-4}, "g_max_s", "0.0001"),
        ({"g_min_s": 0.0}, "g_min_s", "0.0"),
        ({"g_min_s": float("nan")}, "g_min_s", "nan"),
        ({"levels": 1}, "levels", "1"),
        ({"levels": 2.5}, "levels", "2.5"),
        ({"level_spacing": "cubic"}, "level_spacing", "cubic"),
        ({"programming_noise": -0.1}, "programming_noise", "-0.1"),
        ({"read_noise": -1.0}, "read_noise", "-1.0"),
        ({"stuck_min_rate": -0.01}, "stuck_min_rate", "-0.01"),
        ({"stuck_max_rate": 1.5}, "stuck_max_rate", "1.5"),
        ({"stuck_min_rate": 0.6, "stuck_max_rate": 0.6}, "stuck_max_rate", "1.2"),
    ],
)
def test_device_rejects_bad(changes, key, value_text):
    """Invalid device parameters raise a SpecError naming the key and value."""
    with pytest.raises(SpecError) as info:
        DeviceSpec(**changes)
    assert info.value.key == key
    assert value_text in str(info.value)


@pytest.mark.parametrize(
    ("weight", "value_text"),
    [
        (np.array([[1.0, np.nan], [0.0, 2.0]]), "nan at index (0, 1)"),
        (np.array([[1.0, 2.0], [np.inf, 0.0]]), "inf at index (1, 0)"),
        (np.zeros((0, 3)), "empty"),
        (np.zeros(4), "2-D"),
        ([[1.0, 2.0], [3.0]], "real matrix"),
    ],
)
def test_weight_rejects_bad(weight, value_text):
    """Invalid weight matrices raise a SpecError naming the weight and value."""
    with pytest.raises(SpecError) as info:
        map_weights(weight, DeviceSpec())
    assert info.value.key == "weight"
    assert value_text in str(info.value)


def test_scheme_rejects_unknown():
    """An unknown scheme raises a SpecError naming it."""
    with pytest.raises(SpecError, match="'crossed'") as info:
        map_weights(np.ones((2, 2)), DeviceSpec(), scheme="crossed")
    assert info.value.key == "scheme"


def test_shape_mismatch_rejected(rng):
    """Conductances, voltages and currents of the wrong shape are rejected."""
    mapping = map_weights(rng.standard_normal((4, 3)), DeviceSpec())
    with pytest.raises(ValueError, match=r"\(3, 8\)"):
        mapping.effective_weight(np.ones((8, 3)))
    with pytest.raises(ValueError, match=r"\(3,\) or \(3, batch\)"):
        ideal_column_currents(mapping.programmed_s, np.ones(4))
    with pytest.raises(ValueError, match=r"\(8,\) or \(8, batch\)"):
        weights_from_currents(mapping, np.ones(7))


def test_quantize_rejects_nonfinite():
    """Quantizing a NaN conductance names the value and index."""
    with pytest.raises(ValueError, match=r"nan at index \(1,\)"):
        quantize_conductance([1e-5, float("nan")], DeviceSpec())
