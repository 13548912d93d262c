"""``npdehw run --spice tiles``: ngspice in tiles on a local Dask cluster, and its bad input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from npdehw.cli import main

# The stitched tiles of this grid measured 1.5e-5 relative L2 against the twin and
# 7e-6 against the exact semi-discrete solution, with halo sources within 1e-5 of
# the twin's peak voltage. The tolerance is about three times the larger figure.
TILE_TOLERANCE = 5e-5




@pytest.fixture(scope="module")
def design_path(grid_design) -> Path:
    return grid_design("grid16", 16, probe=(8, 8))


@pytest.fixture(scope="module")
def tiled_run(design_path, tmp_path_factory):
    """The finished process and run folder of a 2 x 2 tile run on 2 workers."""
    cwd = tmp_path_factory.mktemp("run")
    env = dict(os.environ, MPLBACKEND="Agg")
    process = subprocess.run(
        [sys.executable, "-m", "npdehw", "run", str(design_path), "--spice", "tiles",
         "--tiles", "2x2", "--workers", "2", "--out", "tiled", "--quiet"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return process, cwd / "tiled"


@pytest.mark.spice
def test_tiled_run_agrees_with_twin_and_exact(tiled_run):
    """The stitched tiles match the twin and the exact semi-discrete solution."""
    process, folder = tiled_run
    assert process.returncode == 0, process.stderr
    record = json.loads((folder / "results.json").read_text())
    metrics = record["metrics"]
    stitched = record["spice_tiles"]["ideal"]["metrics"]["relative_l2"]
    assert record["spice_mode"] == "tiles"
    # The comparison uses the stitched tiles, so its error against the twin is the
    # tiles' own, which halo sources within 1e-5 keep well above zero. The two twins
    # save different steps, so the figures differ in the 7th digit.
    assert metrics["twin_vs_spice"]["relative_l2"] == pytest.approx(stitched, rel=1e-4)
    assert stitched > 1e-7
    assert metrics["twin_vs_spice"]["relative_l2"] < TILE_TOLERANCE
    assert metrics["spice_vs_reference"]["relative_l2"] < TILE_TOLERANCE
    assert metrics["rounded_twin_vs_rounded_spice"]["relative_l2"] < TILE_TOLERANCE
    # E96 rounding moves these resistors by up to 0.63 %, so the rounded tiles must
    # differ from the ideal ones by far more than the tiles' error.
    assert 1e-4 < metrics["rounded_spice_vs_ideal_spice"]["relative_l2"] < 1e-2


@pytest.mark.spice
def test_tiled_run_records_tiles(tiled_run):
    """results.json lists four 8 x 8 tiles, each with 16 halo nodes, on 2 workers."""
    process, folder = tiled_run
    assert process.returncode == 0, process.stderr
    tiles = json.loads((folder / "results.json").read_text())["spice_tiles"]
    assert tiles["tiles"] == [2, 2]
    assert tiles["cluster"]["kind"] == "local"
    assert tiles["cluster"]["workers"] == 2
    assert tiles["cluster"]["address"].startswith("tcp://127.0.0.1:")
    assert "driven by the twin's voltages" in tiles["note"]
    for circuit in ("ideal", "rounded"):
        rows = tiles[circuit]["per_tile"]
        assert [row["owned"] for row in rows] == [64, 64, 64, 64]
        assert [row["halo"] for row in rows] == [16, 16, 16, 16]
        assert max(row["relative_l2"] for row in rows) < 2 * TILE_TOLERANCE
        assert tiles[circuit]["timings_s"]["spice"] > 0
    report = (folder / "report.md").read_text()
    assert "ngspice ran in 4 tiles (2x2), not as one circuit" in report
    assert "## ngspice in tiles" in report
    assert "ngspice tiles (ideal): 4 tiles (2x2, overlap 0)" in process.stdout


@pytest.mark.spice
def test_tiled_probe_matches_whole_netlist(tiled_run):
    """At the probe, the stitched tiles match one ngspice run of the written netlist."""
    from npdehw.sim.compare import error_metrics, resample
    from npdehw.sim.ngspice import run_netlist

    process, folder = tiled_run
    assert process.returncode == 0, process.stderr
    node = json.loads((folder / "results.json").read_text())["probes"]["center"]
    with (folder / "waveforms.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    time_s = np.array([float(row["time_s"]) for row in rows])
    tiled = np.array([[float(row["center_spice_v"])] for row in rows])
    whole = resample(run_netlist((folder / "netlist.cir").read_text()), [node], time_s,
                     tiled[0])
    assert error_metrics(tiled, whole)["relative_l2"] < TILE_TOLERANCE


BAD_OPTIONS = [
    (["--spice", "tiles", "--tiles", "0x3"], ["--tiles 0x3", "at least 1", "1x3"]),
    (["--spice", "tiles", "--tiles", "abc"], ["--tiles 'abc'", "such as 4x4"]),
    (["--spice", "tiles", "--workers", "0"], ["--workers 0", "at least 1", "such as 2"]),
    (["--spice", "tiles", "--workers", "two"], ["--workers 'two'", "whole number"]),
    (["--spice", "tiles", "--halo-rtol=-1e-5"], ["--halo-rtol '-1e-5'", "0 or more"]),
    (["--spice", "tiles", "--halo-rtol", "nan"], ["--halo-rtol 'nan'", "such as 1e-5"]),
    (["--spice", "tiles", "--tiles", "17x2"], ["--tiles 17x2", "16 x 16", "at most 16x16"]),
    (["--spice", "tiles", "--tiles", "4"], ["--tiles 4", "is 2-D", "such as 2x2"]),
    (["--tiles", "2x2"], ["--tiles applies only", "add --spice tiles"]),
    (["--spice", "tiles", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"],
     ["--workers 2", "leave it out with --scheduler"]),
]


@pytest.mark.parametrize(("options", "fragments"), BAD_OPTIONS,
                         ids=[" ".join(options) for options, _ in BAD_OPTIONS])
def test_bad_tile_option_exits_2(design_path, tmp_path, capsys, options, fragments):
    """A bad tile option exits 2 with one line naming the option, the value and the fix."""
    out = tmp_path / "out"
    status = main(["run", str(design_path), "--out", str(out), "--quiet", *options])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("npdehw: error: ")
    for fragment in fragments:
        assert fragment in error
    assert "Traceback" not in error
    assert not out.exists()


@pytest.mark.parametrize(("design", "kind"), [("mlp_digits", "crossbar network"),
                                              ("reservoir", "reservoir job")])
def test_tiles_reject_non_grid_designs(tmp_path, capsys, design, kind):
    """Crossbar and job designs with --spice tiles exit 2 before any simulation."""
    out = tmp_path / "out"
    status = main(["run", design, "--out", str(out), "--quiet", "--spice", "tiles"])
    error = capsys.readouterr().err
    assert status == 2
    assert f"is a {kind} design" in error
    assert "leave out --spice tiles" in error
    assert not out.exists()


def test_unknown_spice_mode_exits_2(design_path, capsys):
    """argparse rejects a mode other than full or tiles."""
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(design_path), "--spice", "halves"])
    assert exit_info.value.code == 2
    assert "--spice: invalid choice: 'halves'" in capsys.readouterr().err
