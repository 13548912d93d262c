"""npdehw sweep on bad input: exit status 2 with a message naming the option or key.

Every case fails before any cluster starts. Cases run the command line in this
process; argparse rejects malformed values itself (SystemExit 2, usage on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from npdehw.cli import main

DESIGNS = Path(__file__).resolve().parents[2] / "designs"


def run(capsys, *args: str) -> tuple[int, str]:
    """Return the exit status and stderr of ``npdehw sweep ARGS``."""
    try:
        status = main(["sweep", *args])
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize("options, expected", [
    (["--samples", "-3"], "--samples: must be between 0"),
    (["--samples", "many"], "--samples: must be a whole number"),
    (["--spec", "0"], "--spec: must be positive"),
    (["--resistor-tolerance", "1.5"], "--resistor-tolerance: must be above 0 and below 1"),
    (["--capacitor-tolerance", "five"], "--capacitor-tolerance: must be a fraction"),
    (["--vary", "npde.diffusion"], "--vary: expected KEY=V1,V2"),
    (["--vary", "npde=1"], "--vary: 'npde' is not a dotted design key"),
    (["--vary", "npde.diffusion=1,1"], "lists a value twice"),
    (["--vary", "npde.diffusion=(1)"], "cannot read the values"),
])
def test_malformed_option_exits_2(capsys, tmp_path, options, expected):
    """argparse rejects the value and names the option."""
    status, err = run(capsys, "heat1d", "--out", str(tmp_path / "s"), *options)
    assert status == 2
    assert expected in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("options, expected", [
    (["--vary", "npde.difusion=1,2"], "npde.difusion: unknown key"),
    (["--vary", "npde.diffusion=-1,2"], "--vary npde.diffusion=-1: npde.diffusion: must be "
                                        "positive"),
    (["--vary", "npde.diffusion.x=1"], "--vary npde.diffusion.x: npde.diffusion is a value"),
    (["--vary", "circuit.resistor_series=E96,E7"], "circuit.resistor_series: unknown series "
                                                   "'E7'"),
    (["--vary", "npde.diffusion=1", "--vary", "npde.diffusion=2"], "--vary npde.diffusion "
                                                                    "is given twice"),
    (["--figure", "rms"], "--figure rms: unknown figure"),
    (["--figure", "probe:nowhere"], "has no probe 'nowhere'"),
    (["--distribution", "gauss"], "--distribution gauss: unknown distribution"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "leave it out with --scheduler"),
])
def test_invalid_option_exits_2(capsys, tmp_path, options, expected):
    """An option that does not fit the design gives one error line and no folder."""
    status, err = run(capsys, "heat1d", "--out", str(tmp_path / "s"), *options)
    assert status == 2
    assert err.startswith("npdehw: error: ")
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_foreign_folder_left_untouched(capsys, tmp_path):
    """A folder npdehw did not write is rejected and keeps its file."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    status, err = run(capsys, "heat1d", "--out", str(tmp_path / "mine"))
    assert status == 2
    assert "did not write" in err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_run_folder_not_replaced(capsys, tmp_path):
    """A run folder of npdehw run (marker file) is not turned into a sweep folder."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".npdehw-run").write_text("")
    (tmp_path / "run" / "results.json").write_text("{}")
    status, err = run(capsys, "heat1d", "--out", str(tmp_path / "run"))
    assert status == 2
    assert "run folder of npdehw run" in err
    assert (tmp_path / "run" / "results.json").read_text() == "{}"


def test_other_sweep_not_resumed(capsys, tmp_path):
    """A sweep folder of another seed is rejected, naming what differs."""
    folder = tmp_path / "old"
    (folder / "samples").mkdir(parents=True)
    (folder / ".npdehw-sweep").write_text("")
    manifest = {"design_sha256": "0" * 64, "variations": [], "seed": 3,
                "distribution": "normal", "tolerance_overrides": {}}
    (folder / "sweep.json").write_text(json.dumps(manifest))
    sample = folder / "samples" / "setting-000" / "sample-000000.json"
    sample.parent.mkdir()
    sample.write_text(json.dumps({"setting": 0, "sample": 0, "status": "done"}))
    status, err = run(capsys, "heat1d", "--out", str(folder), "--seed", "3")
    assert status == 2
    assert "different design_sha256" in err
    assert "seed" not in err.split("different", 1)[1].split(";")[0]
    assert json.loads((folder / "sweep.json").read_text()) == manifest
    assert sample.exists()


def test_hopfield_design_rejected(capsys, tmp_path):
    """A Hopfield design is neither a grid nor a crossbar network, and the error names that."""
    status, err = run(capsys, "hopfield_patterns", "--out", str(tmp_path / "s"))
    assert status == 2
    assert "runs grid designs" in err
    assert "crossbar network designs" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("design, options, expected", [
    ("mlp_digits", ["--figure", "relative_l2"], "use one of ['class_flips', 'error_rate']"),
    ("mlp_digits", ["--resistor-tolerance", "1%"], "--resistor-tolerance: "),
    ("mlp_digits", ["--distribution", "uniform"], "--distribution uniform: "),
    ("mlp_digits", ["--network-samples", "451"], "--network-samples: must be between 1 "
                                                  "and 450"),
    ("heat1d", ["--network-samples", "50"], "leave it out for grid designs"),
])
def test_option_of_other_kind_rejected(capsys, tmp_path, design, options, expected):
    """Grid options on a crossbar network, and the reverse, exit 2 before any training."""
    status, err = run(capsys, design, "--out", str(tmp_path / "s"), *options)
    assert status == 2
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()
