"""The learned stencil: training, the resistor circuit in ngspice, the run and bad input.

The circuit is checked against ``scipy.ndimage.correlate``, the training against the
least-squares stencil from ``numpy.linalg.lstsq``, and the run's noisy baseline
against the noise variance, so no reference comes from the code under test.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import correlate

from npdehw.cli import main
from npdehw.hw.checks import check_circuit
from npdehw.hw.crossbar_circuit import Readout
from npdehw.hw.stencil_circuit import build_stencil_circuit
from npdehw.models.stencil_images import load_stencil_data
from npdehw.models.stencil_training import train_stencil
from npdehw.models.training import TrainSpec
from npdehw.sim.stencil_run import run_stencil_spice, run_stencil_twin

DESIGN = (Path(__file__).resolve().parents[2] / "designs" / "learned_stencil.toml"
          ).read_text(encoding="utf-8")
# IEC 60063 E24 mantissas.
E24 = {10, 11, 12, 13, 15, 16, 18, 20, 22, 24, 27, 30, 33, 36, 39, 43, 47, 51, 56, 62,
       68, 75, 82, 91}
NOISE_STD = 0.25


def set_key(text: str, key: str, value: str) -> str:
    """Return ``text`` with the one line that sets ``key`` replaced by ``key = value``."""
    pattern = rf"^{re.escape(key)}[ \t]*=.*$"
    assert len(re.findall(pattern, text, flags=re.MULTILINE)) == 1, key
    return re.sub(pattern, f"{key} = {value}", text, flags=re.MULTILINE)


def small_design() -> str:
    """Return the bundled design on 200 digits (40 held out) with short training."""
    text = set_key(DESIGN, "max_images", "200")
    text = set_key(text, "epochs", "80")
    return set_key(text, "patience", "10")


def _stencil_patches(images: np.ndarray) -> np.ndarray:
    """Return each pixel's 3 x 3 neighbourhood (zero outside) and a 1, shape (n * 64, 10)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    rows, cols = images.shape[1:]
    columns = [padded[:, a:a + rows, b:b + cols].ravel() for a in range(3) for b in range(3)]
    return np.stack(columns + [np.ones(images.size)], axis=1)


@pytest.mark.parametrize("readout, limit", [("ideal", 1e-9), ("tia", 5e-4)])
def test_circuit_matches_correlation(readout, limit):
    """ngspice and the twin compute the correlation with the stencil, plus the bias.

    The ``tia`` limit allows for the op-amp's open-loop gain of 1e5: each stage is off
    by about (1 + sum |w|) / 1e5 of its output.
    """
    # The negative taps all reach up, so pixels of the top row have no minus taps.
    weight = np.array([[-0.1, -0.3, -0.05], [0.2, 0.6, 0.25], [0.1, 0.3, 0.15]])
    bias = 0.15
    rng = np.random.default_rng(4)
    images = rng.uniform(-0.5, 1.5, size=(6, 8, 8))
    expected = np.stack([correlate(image, weight, mode="constant") for image in images])
    expected += bias
    circuit = build_stencil_circuit(weight, bias, readout=Readout(kind=readout,
                                                                  feedback_ohm=1e4))
    spice, _ = run_stencil_spice(circuit, images)
    twin, _ = run_stencil_twin(circuit, images)
    assert np.max(np.abs(spice - expected)) < limit
    assert np.max(np.abs(spice - twin)) < 1e-9


def test_tiny_taps_are_left_open():
    """Taps whose resistor would exceed the catalogue are not built, nor their sources."""
    weight = np.zeros((3, 3))
    weight[1, 1], weight[1, 0], weight[0, 1], weight[2, 0] = 1.0, 0.3, 0.2, -0.1
    weight[2, 2] = 1e-5
    circuit = build_stencil_circuit(weight, 1e-6, readout=Readout(kind="ideal",
                                                                  feedback_ohm=1e4),
                                    resistance_range_ohm=(1.0, 1e6))
    assert circuit.pruned == ("weight[2,2]", "bias")
    assert {name for name, _ in circuit.taps.values()} == {
        "weight[0,1]", "weight[1,0]", "weight[1,1]", "weight[2,0]"}
    assert "bias_row" not in circuit.graph
    check_circuit(circuit.graph)


def test_training_reaches_least_squares_stencil():
    """Adam ends within 1 % of the least-squares optimum of the training loss."""
    data = load_stencil_data("denoise", noise_std=NOISE_STD, max_images=300)
    spec = TrainSpec(optimizer="adam", learning_rate=0.01, epochs=60, batch_size=64)
    trained = train_stencil(data, spec, progress=False)
    patches = _stencil_patches(data.train.inputs)
    targets = data.train.targets.ravel()
    optimum, *_ = np.linalg.lstsq(patches, targets, rcond=None)
    best = np.mean((patches @ optimum - targets) ** 2)
    reached = np.mean((trained.apply(data.train.inputs).ravel() - targets) ** 2)
    assert reached <= 1.01 * best
    assert np.max(np.abs(trained.weight.ravel() - optimum[:9])) < 0.02


def test_stopped_training_resumes(tmp_path):
    """A second run with the same checkpoint resumes and keeps the same stencil."""
    data = load_stencil_data("denoise", noise_std=NOISE_STD, max_images=100)
    spec = TrainSpec(optimizer="adam", learning_rate=0.01, epochs=6, batch_size=16)
    checkpoint = tmp_path / "stencil.pt"
    first = train_stencil(data, spec, checkpoint=checkpoint, fingerprint="a",
                          progress=False)
    second = train_stencil(data, spec, checkpoint=checkpoint, fingerprint="a",
                           progress=False)
    assert second.history.resumed_at == 6
    np.testing.assert_array_equal(first.weight, second.weight)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """Run the small design through ``npdehw run`` and return its run folder."""
    folder = tmp_path_factory.mktemp("stencil")
    design = folder / "small_stencil.toml"
    design.write_text(small_design(), encoding="utf-8")
    out = folder / "run"
    env = dict(os.environ, MPLBACKEND="Agg")
    finished = subprocess.run([sys.executable, "-m", "npdehw", "run", str(design), "--out",
                               str(out), "--quiet"], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    return out


def test_small_run_within_two_percent(small_run):
    """The E24 circuit in ngspice scores within 2 % of the float stencil."""
    record = json.loads((small_run / "results.json").read_text())
    scores = record["scores"]
    assert scores["images"] == 40
    assert abs(scores["spice_rounded"] / scores["float"] - 1) <= 0.02
    assert abs(scores["spice_ideal"] / scores["float"] - 1) <= 1e-3
    assert record["acceptance"]["passed"]


def test_small_run_beats_noisy_baseline(small_run):
    """Training lowers the error well below the noisy input's, which is the noise variance."""
    scores = json.loads((small_run / "results.json").read_text())["scores"]
    # 2560 pixels give the sample variance a relative spread of about 3 %.
    assert scores["baseline"] == pytest.approx(NOISE_STD**2, rel=0.1)
    assert scores["float"] < 0.7 * scores["baseline"]


def test_small_run_netlist_uses_e24_parts(small_run):
    """Every resistor of the rounded netlist is an E24 value, and each tap has provenance."""
    text = (small_run / "netlist_quantized.cir").read_text()
    values = [float(line.split()[3]) for line in text.splitlines()
              if line.startswith("r")]
    mantissas = {round(value / 10 ** np.floor(np.log10(value)) * 10) for value in values}
    assert values and mantissas <= E24
    with open(small_run / "trained_parameters.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "stencil.weight[1,1]" in {row["parameter"] for row in rows}
    for row in rows:
        # E24 steps are 10 % apart, so rounding moves a part by at most about 5 %.
        built, trained = float(row["built_value"]), float(row["trained_value"])
        assert abs(np.log(built / trained)) <= 0.5 * np.log(1.1) + 1e-6, row
    for name in ("report.md", "bom.csv", "loss.png", "examples.png", "stencil.png"):
        assert (small_run / name).is_file(), name


BAD_INPUT = [
    ("noise_std", "-0.1", "stencil.noise_std"),
    ("test_fraction", "0.6", "stencil.test_fraction"),
    ("readout", '"opamp"', "stencil.readout"),
    ("task", '"deblur"', "stencil.task"),
    ("resistance_range_ohm", "[1e6, 10.0]", "stencil.resistance_range_ohm"),
    ("feedback_ohm", "1e9", "stencil.feedback_ohm"),
    ("feedback_search", '"yes"', "stencil.feedback_search"),
    ("max_images", "5", "stencil.max_images"),
    ("optimizer", '"rmsprop"', "training.optimizer"),
]


@pytest.mark.parametrize("key, value, named", BAD_INPUT)
def test_bad_value_exits_2(tmp_path, capsys, key, value, named):
    """``npdehw run`` exits 2 with one error line that names the file and the key."""
    design = tmp_path / "bad.toml"
    design.write_text(set_key(DESIGN, key, value), encoding="utf-8")
    status = main(["run", str(design), "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith(f"npdehw: error: {design}: {named}:")
    assert "\n" not in error
    assert not (tmp_path / "run").exists()


def test_misspelt_key_exits_2_from_the_shell(tmp_path):
    """An unknown key in [stencil] fails in a real process, with the key and a hint."""
    design = tmp_path / "bad.toml"
    design.write_text(DESIGN.replace("noise_std =", "noise_sd ="), encoding="utf-8")
    finished = subprocess.run([sys.executable, "-m", "npdehw", "run", str(design)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert "stencil.noise_sd: unknown key" in finished.stderr
    assert "'noise_std'" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_negative_noise_seed_exits_2(tmp_path, capsys):
    """A negative ``stencil.seed`` is rejected while loading, before any training."""
    design = tmp_path / "bad.toml"
    line = next(row for row in DESIGN.splitlines() if row.startswith("seed ="))
    assert DESIGN.index(line) < DESIGN.index("[training]")
    design.write_text(DESIGN.replace(line, "seed = -3", 1), encoding="utf-8")
    status = main(["run", str(design), "--out", str(tmp_path / "run")])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith(f"npdehw: error: {design}: stencil.seed:")
