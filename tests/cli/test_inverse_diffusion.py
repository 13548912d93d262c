"""The inverse_diffusion job end to end on a 6 x 6 grid, its checkpoints and bad input.

The runs use real ngspice, through ``python -m npdehw`` except the resume test, which
interrupts a run in-process. The small design keeps the bundled one's physics (0.5x to 2x hidden field, Dirichlet sides at 0 V,
1 % noise) on fewer nodes, excitations and times.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from npdehw.design import load_design
from npdehw.errors import DesignError
from npdehw.hw.eseries import is_series_value
from npdehw.inverse_job import run
from npdehw.inverse_report import RUN_FILES

SMALL = """\
name = "inverse_small"
description = "6 x 6 inverse diffusion"

[inverse]
shape = [6, 6]
excitations = 3
output_times = 20
end_time = 10.0
correlation_length = 2.0
noise_levels = [0.0, 0.01]

[training]
epochs = 15
"""
CORNERS = {(-0.5, 0.0), (0.0, -0.5), (-0.5, 5.0), (0.0, 5.5), (5.5, 0.0), (5.0, -0.5),
           (5.5, 5.0), (5.0, 5.5)}


def run_cli(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the command line in ``cwd`` and return the finished process."""
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "npdehw", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Run the small design once and return (process, run folder)."""
    folder = tmp_path_factory.mktemp("inverse")
    (folder / "small.toml").write_text(SMALL)
    process = run_cli(folder, "run", "small.toml", "--out", "out")
    return process, folder / "out"


def read_edges(out: Path) -> list[dict]:
    with (out / "edges.csv").open() as handle:
        return list(csv.DictReader(handle))


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_small_run_writes_folder(small_run):
    """The run exits 0, prints the summary and writes every file of the run folder."""
    process, out = small_run
    assert process.returncode == 0, process.stderr
    assert "observable edges" in process.stdout
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert not (out.parent / ".out.checkpoints").exists()


def test_hidden_field_is_far_from_guess(small_run):
    """The uniform guess misses most hidden edges by more than 5 %, so recovery means work."""
    edges = read_edges(small_run[1])
    hidden = np.array([float(row["hidden_ohm"]) for row in edges])
    assert hidden.max() / hidden.min() > 3.0
    assert np.mean(np.abs(10e3 / hidden - 1) > 0.05) > 0.8


def test_corner_edges_are_unobservable(small_run):
    """The two boundary resistors of each corner node are in parallel: not observable."""
    edges = read_edges(small_run[1])
    flags = {(float(row["x"]), float(row["y"])): row["observable"] == "true" for row in edges}
    assert all(not flags[position] for position in CORNERS)
    assert sum(flags.values()) >= 0.85 * len(edges)


def test_noise_free_recovery_within_tolerance(small_run):
    """Every observable edge comes back within 5 %, and so does each corner pair's sum."""
    fit = results(small_run[1])["metrics"]["fits"][0]
    assert fit["noise"] == 0.0
    assert fit["max_abs_error_observable"] < 0.05
    assert fit["parallel_groups"]["count"] == 4
    assert fit["parallel_groups"]["max_abs_conductance_error"] < 0.05


def test_noise_error_grows_as_predicted(small_run):
    """1 % probe noise raises the error, to within 3x of the Cramer-Rao prediction."""
    clean, noisy = results(small_run[1])["metrics"]["fits"]
    assert noisy["rms_error_observable"] > 3 * clean["rms_error_observable"]
    ratio = noisy["rms_error_observable"] / noisy["predicted_rms_error"]
    assert 1 / 3 < ratio < 3


def test_ideal_rounded_digital_against_hidden_data(small_run):
    """The trained circuit reproduces the hidden data in ngspice and the twin, E96 less."""
    metrics = results(small_run[1])["metrics"]["against_hidden_spice"]
    assert metrics["ideal_spice"]["relative_l2"] < 1e-3
    assert metrics["digital_twin"]["relative_l2"] < 1e-3
    assert metrics["rounded_spice"]["relative_l2"] > metrics["ideal_spice"]["relative_l2"]
    assert metrics["rounded_spice"]["relative_l2"] < 2e-2
    report = (small_run[1] / "report.md").read_text()
    for label in ("digital: twin", "ideal: ngspice", "rounded: ngspice, E96"):
        assert label in report


def test_built_values_are_e96_with_provenance(small_run):
    """trained_parameters.csv: every edge, trained from 10 kOhm, built from E96 parts."""
    with (small_run[1] / "trained_parameters.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(read_edges(small_run[1]))
    for row in rows:
        assert row["parameter"] == "edge_conductance"
        assert float(row["initial_value"]) == 10e3
        assert is_series_value(float(row["built_value"]), "E96", rel_tol=1e-5)


def test_interrupted_training_resumes(tmp_path, capsys):
    """Ctrl-C during training keeps the checkpoint, and the next run resumes from it.

    The run is in-process: a thread sends SIGINT to this process once the first
    epoch's checkpoint exists, as Ctrl-C would.
    """
    text = SMALL.replace("noise_levels = [0.0, 0.01]", "noise_levels = [0.0]").replace(
        "epochs = 15", 'optimizer = "adam"\nlearning_rate = 0.1\nepochs = 100\npatience = 0')
    (tmp_path / "small.toml").write_text(text)
    design = load_design(tmp_path / "small.toml")
    out = tmp_path / "out"
    checkpoint = tmp_path / ".out.checkpoints" / "noise_0.pt"

    def interrupt_after_first_epoch():
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=interrupt_after_first_epoch, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        run(design, out, quiet=True)
    watcher.join()
    assert checkpoint.exists()
    assert not out.exists()
    capsys.readouterr()
    run(design, out, quiet=True)
    assert "resuming after epoch" in capsys.readouterr().err
    fit = results(out)["metrics"]["fits"][0]
    assert fit["epochs"] == 100
    assert fit["max_abs_error_observable"] < 0.05
    assert not checkpoint.parent.exists()


def test_bundled_design_loads():
    """The bundled design loads as an inverse job with its [training] table."""
    design = load_design("inverse_diffusion")
    assert design.job == "inverse"
    assert design.shape == (16, 16)
    assert design.training.optimizer == "lbfgs"
    assert "16 x 16 RC grid" in design.summary()


def test_bad_input_exits_2(tmp_path):
    """A bad key exits 2 with one error line naming the file and the key."""
    (tmp_path / "bad.toml").write_text(SMALL.replace("shape = [6, 6]", "shape = [6, 6, 6]"))
    process = run_cli(tmp_path, "validate", "bad.toml")
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "bad.toml" in lines[0]
    assert "inverse.shape" in lines[0]


@pytest.mark.parametrize("old,new,key", [
    ("shape = [6, 6]", "shape = [1, 6]", "inverse.shape"),
    ("shape = [6, 6]", "shape = [40, 40]", "inverse.shape"),
    ("excitations = 3", "excitations = 0", "inverse.excitations"),
    ("noise_levels = [0.0, 0.01]", "noise_levels = [1.5]", "inverse.noise_levels"),
    ("noise_levels = [0.0, 0.01]", "noise_levels = []", "inverse.noise_levels"),
    ("correlation_length = 2.0", "correlation_length = 2.0\nsearch_ratio = [0.6, 4.0]",
     "inverse.search_ratio"),
    ("correlation_length = 2.0", "correlation_length = 2.0\nprobes = [[6, 0]]",
     "inverse.probes"),
    ("correlation_length = 2.0", "correlation_length = 2.0\nboundary = \"periodic\"",
     "inverse.boundary"),
    ("correlation_length = 2.0", "correlation_length = 2.0\ntwin_method = \"euler\"",
     "inverse.twin_method"),
    ("correlation_length = 2.0", "correlation_lenght = 2.0", "inverse.correlation_lenght"),
    ("epochs = 15", "epochs = 15\noptimizer = \"newton\"", "training.optimizer"),
    ("epochs = 15", "epochs = 15\npatiense = 4", "training.patiense"),
    ("epochs = 15", "epochs = 15\nseed = -1", "training.seed"),
    ("[inverse]", "[inverse]\nresistance_ohm = 5e6", "inverse.resistance_ohm"),
])
def test_bad_values_name_the_key(tmp_path, old, new, key):
    """Each invalid value raises DesignError naming the dotted key and the file."""
    path = tmp_path / "bad.toml"
    assert SMALL.count(old) == 1
    path.write_text(SMALL.replace(old, new))
    with pytest.raises(DesignError) as caught:
        load_design(path)
    assert key in str(caught.value)
    assert str(path) in str(caught.value)
