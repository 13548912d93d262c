"""The mlp_digits design: a trained network on crossbars, in ngspice and the DC twin."""

import csv
import dataclasses

import numpy as np
import pytest

from npdehw.design import load_design
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.models.digits import load_digits_split, train_mlp
from npdehw.network_export import export_network_run
from npdehw.network_pipeline import network_layers, run_network_design
from npdehw.sim.crossbar_run import run_crossbar_twin


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The design on 120 held-out samples, 2 of them with wire resistance, exported."""
    design = load_design("mlp_digits")
    design = dataclasses.replace(design, network=dataclasses.replace(
        design.network, samples=120, wire_samples=2), training=dataclasses.replace(
        design.training, qat=None, physics_aware=None))
    out = tmp_path_factory.mktemp("runs") / "digits"
    return run_network_design(design, export=lambda r: export_network_run(r, out)), out


def test_float_network_accuracy(digits_run):
    """The float network reaches at least 95 % on the held-out digits."""
    result, _ = digits_run
    assert result.metrics["float_accuracy_full_test_set"] >= 0.95


@pytest.mark.parametrize("variant", ["ideal", "quantized"])
def test_spice_accuracy_matches_twin(digits_run, variant):
    """ngspice's accuracy is within one percentage point of the twin's, class by class."""
    entry = digits_run[0].metrics["variants"][variant]
    assert entry["spice_samples"] == 120
    assert abs(entry["spice_accuracy"] - entry["twin_accuracy_same_samples"]) <= 0.01
    assert entry["class_agreement"] >= 0.99
    assert entry["spice_accuracy"] >= 0.9


def test_nonideal_twin_follows_spice(digits_run):
    """With wire resistance, noise and faults the twin's outputs follow ngspice's."""
    entry = digits_run[0].metrics["variants"]["nonideal"]
    assert entry["spice_samples"] == 2
    assert entry["max_output_difference"] < 1e-6


def test_level_count_changes_accuracy():
    """Dropping from 64 to 4 conductance levels costs accuracy (twin, 450 samples)."""
    design = load_design("mlp_digits")
    x_train, x_test, y_train, y_test = load_digits_split(seed=0)
    layers = network_layers(train_mlp(x_train, y_train, seed=0, weight_limit=1.0))
    accuracies = {}
    for levels in (64, 4):
        device = dataclasses.replace(design.device, levels=levels, programming_noise=0.0,
                                     stuck_min_rate=0.0, stuck_max_rate=0.0)
        network = build_crossbar_network(layers, device, seed=None)
        outputs, _ = run_crossbar_twin(network, x_test)
        accuracies[levels] = np.mean(outputs.argmax(axis=1) == y_test)
    assert accuracies[64] - accuracies[4] > 0.005


def test_programming_table_covers_every_device(digits_run):
    """The programming table has one row per device, with levels and conductances."""
    result, out = digits_run
    with (out / "programming_table.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    expected = sum(layer.conductance_s.size for layer in result.networks["quantized"].layers)
    assert len(rows) == expected
    levels = {int(row["level_index"]) for row in rows}
    assert levels <= set(range(16))
    assert all(1e-6 <= float(row["programmed_s"]) <= 1e-4 for row in rows)
    assert (out / "accuracy.png").stat().st_size > 0
