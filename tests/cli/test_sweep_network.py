"""npdehw sweep on a 64-8-10 crossbar network: device variation in real ngspice on Dask.

The tests call the command line in this process against one module-wide local
cluster of one worker (``--scheduler``), so the worker starts once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from npdehw.cli import main
from npdehw.design import load_design
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.models.digits import fit_mlp, load_digits_split
from npdehw.sim.crossbar_run import run_crossbar_twin
from npdehw.sweep_cluster import dask_client
from npdehw.sweep_prepare import FAILING_SAMPLES_VARIABLE

pytestmark = pytest.mark.spice

SMALL_NETWORK = """\
name = "mlp_small"
description = "64-8-10 MLP on differential crossbars for sweep tests"

[network]
kind = "digits_mlp"
hidden = 8
seed = 0
samples = 50
wire_samples = 0

[crossbar]
levels = 16
programming_noise = {noise}
stuck_min_rate = {stuck}
stuck_max_rate = {stuck}

[training]
optimizer = "adam"
learning_rate = 0.02
epochs = 20
batch_size = 64
"""

HELD_OUT = 40
SAMPLES = 3


@pytest.fixture(scope="module")
def scheduler():
    """Address of a one-worker local cluster bound to 127.0.0.1."""
    with dask_client(1) as client:
        yield client.scheduler.address


def _design(folder: Path, noise: float, stuck: float) -> Path:
    path = folder / f"mlp_small_{noise}_{stuck}.toml"
    path.write_text(SMALL_NETWORK.format(noise=noise, stuck=stuck), encoding="utf-8")
    return path


def _sweep(design: Path, out: Path, scheduler: str, *options: str) -> dict:
    """Run the sweep and return its stored records by sample index."""
    status = main(["sweep", str(design), "--out", str(out), "--samples", str(SAMPLES),
                   "--network-samples", str(HELD_OUT), "--scheduler", scheduler, "--quiet",
                   *options])
    assert status == 0
    records = {}
    for path in (out / "samples" / "setting-000").glob("*.json"):
        record = json.loads(path.read_text())
        records[record["sample"]] = record
    return records


def _figures(records: dict) -> dict:
    return {k: r["figures"] for k, r in records.items()}


def test_same_seed_same_figures(tmp_path, scheduler):
    """Programming noise and faults follow the seed: equal for one seed, not for another."""
    design = _design(tmp_path, 0.1, 0.02)
    first = _sweep(design, tmp_path / "a", scheduler, "--seed", "5")
    again = _sweep(design, tmp_path / "b", scheduler, "--seed", "5")
    other = _sweep(design, tmp_path / "c", scheduler, "--seed", "6")
    assert set(first) == {-1, *range(SAMPLES)}
    assert all(r["status"] == "done" for r in first.values())
    assert _figures(first) == _figures(again)
    assert [first[k]["figures"] for k in range(SAMPLES)] != \
        [other[k]["figures"] for k in range(SAMPLES)]
    assert first[-1]["figures"] == other[-1]["figures"]  # nominal: no variation
    # 10 % noise and 4 % stuck devices on an 8-unit network cost accuracy on most draws.
    errors = [first[k]["figures"]["error_rate"] for k in range(SAMPLES)]
    assert max(errors) > first[-1]["figures"]["error_rate"]
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert results["sweep"]["spec"] == 0.05
    assert results["sweep"]["figure"] == "error_rate"
    assert results["settings"][0]["parts"]["memristor"]["count"] == 2 * (65 * 8 + 9 * 10)


def _twin_error_rate(design_path: Path) -> float:
    """Train the design's network and score its quantized crossbars with the DC twin."""
    design = load_design(design_path)
    x_train, x_test, y_train, y_test = load_digits_split(seed=design.network.seed)
    module, _ = fit_mlp(x_train, y_train, design.training.spec, hidden=8,
                        activation="tanh", weight_decay=design.training.weight_decay,
                        weight_limit=design.network.weight_limit)
    layers = [(module[0].weight.detach().numpy(), module[0].bias.detach().numpy(), "tanh"),
              (module[2].weight.detach().numpy(), module[2].bias.detach().numpy(),
               "identity")]
    network = build_crossbar_network(layers, design.device, read_v=design.read_v,
                                     quantize=True, seed=None)
    outputs, _ = run_crossbar_twin(network, x_test[:HELD_OUT])
    return float(np.mean(outputs.argmax(axis=1) != y_test[:HELD_OUT]))


def test_no_variation_matches_twin(tmp_path, scheduler):
    """Without noise and faults every sample is the quantized network of the DC twin."""
    design = _design(tmp_path, 0.0, 0.0)
    records = _sweep(design, tmp_path / "s", scheduler)
    expected = _twin_error_rate(design)
    assert 0.0 < expected < 0.5  # a trained network that still errs on some digits
    for k in (-1, *range(SAMPLES)):
        assert records[k]["figures"]["error_rate"] == pytest.approx(expected, abs=1e-12)


def test_failed_sample_recorded_and_resumed(tmp_path, scheduler, monkeypatch):
    """A sample ngspice rejects is stored as failed; a rerun runs it alone and keeps the rest."""
    design = _design(tmp_path, 0.05, 0.01)
    monkeypatch.setenv(FAILING_SAMPLES_VARIABLE, "1")
    records = _sweep(design, tmp_path / "f", scheduler)
    assert records[1]["status"] == "failed"
    assert "SimulationError" in records[1]["error"]
    assert "no_such_model" in records[1]["error"]
    assert [records[k]["status"] for k in (-1, 0, 2)] == ["done"] * 3
    monkeypatch.delenv(FAILING_SAMPLES_VARIABLE)
    rerun = _sweep(design, tmp_path / "f", scheduler, "--retry-failed")
    assert rerun[1]["status"] == "done"
    assert rerun[0] == records[0]  # stored sample kept, same run id
    results = json.loads((tmp_path / "f" / "results.json").read_text())
    assert results["run"]["done"] == 1
    assert results["run"]["stored_before"] == SAMPLES
