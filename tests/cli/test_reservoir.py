"""The reservoir design on the command line: a small run end to end, and bad input.

Designs are made by editing the text of the bundled ``reservoir`` design, and the
command line runs in this process through ``npdehw.cli.main``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from pathlib import Path

import pytest

from npdehw.cli import main
from npdehw.hw.eseries import is_series_value
from npdehw.reservoir_report import RESERVOIR_FILES

BUNDLED = (Path(__file__).resolve().parents[2] / "designs" / "reservoir.toml").read_text(
    encoding="utf-8")


def set_key(text: str, key: str, value: str) -> str:
    """Return ``text`` with the one line that sets ``key`` replaced by ``key = value``."""
    pattern = rf"^{re.escape(key)}[ \t]*=.*$"
    assert len(re.findall(pattern, text, flags=re.MULTILINE)) == 1, key
    return re.sub(pattern, f"{key} = {value}", text, flags=re.MULTILINE)


def small_design() -> str:
    """Return the bundled design shrunk to 8 nodes and 120 samples of 4 twin steps."""
    text = set_key(BUNDLED, "shape", "[8]")
    text = set_key(text, "input_nodes", "[[0], [4]]")
    text = set_key(text, "input_weights", "[1.2, 0.8]")
    for key, value in (("washout", "20"), ("train", "70"), ("test", "30"),
                       ("steps_per_sample", "4")):
        text = set_key(text, key, value)
    return text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "design.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Run the small design once: ``(exit status, printed output, run folder)``."""
    folder = tmp_path_factory.mktemp("reservoir")
    out = folder / "run"
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        status = main(["run", str(write(folder, small_design())), "--out", str(out),
                       "--quiet"])
    return status, capture.getvalue(), out


@pytest.mark.spice
def test_small_reservoir_run_writes_folder(small_run):
    """A small design runs end to end and writes every file of the run folder."""
    status, printed, out = small_run
    assert status == 0
    assert "test NMSE, NARMA-10" in printed
    for name in RESERVOIR_FILES:
        assert (out / name).is_file(), name
    record = json.loads((out / "results.json").read_text())
    nmse = record["metrics"]["nmse"]
    assert set(nmse) >= {"spice_on_spice", "twin_on_spice", "twin_on_twin",
                         "rounded_on_rounded", "rounded_twin_on_rounded",
                         "delay_line_order", "delay_line_nodes"}
    assert record["metrics"]["states"]["twin_vs_ngspice"]["relative_l2"] < 1e-2
    with open(out / "readout.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["feature"] for row in rows] == [f"v(n_{i})" for i in range(8)] + ["bias"]


@pytest.mark.spice
def test_rounded_netlist_uses_e96_resistors(small_run):
    """Every resistor of the rounded netlist is an E96 value."""
    out = small_run[2]
    values = [float(line.split()[3]) for line in
              (out / "netlist_quantized.cir").read_text().splitlines()
              if line.startswith("r")]
    # Diffusion and advection resistors between and below 7 node pairs, decay at each of
    # the 8 nodes, and 2 input resistors.
    assert len(values) == 7 + 7 + 8 + 2
    for value in values:
        assert is_series_value(value, "E96"), value


BAD_INPUT = [
    ("input_weights", "[1.2, 1.0]", "reservoir.input_weights"),
    ("input_nodes", "[[0], [40], [14], [21], [28]]", "reservoir.input_nodes[1]"),
    ("reaction", '"foo(u)"', "reservoir.reaction"),
    ("task", '{ kind = "narma", order = 1 }', "reservoir.task.order"),
    ("task", '{ kind = "mackey_glass" }', "reservoir.task.kind"),
    ("train", "20", "reservoir.train"),
    ("sample_time", "-0.7", "reservoir.sample_time"),
    ("advection", "-5.0", "reservoir.advection"),
]


@pytest.mark.parametrize("key,value,named", BAD_INPUT, ids=[case[2] for case in BAD_INPUT])
def test_bad_reservoir_input_exits_2(tmp_path, capsys, key, value, named):
    """Bad values exit with status 2 and one error line naming the file and the key."""
    path = write(tmp_path, set_key(BUNDLED, key, value))
    assert main(["validate", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("npdehw: error: ")
    assert str(path) in error
    assert f"{named}:" in error
    assert "Traceback" not in error


def test_unknown_reservoir_key_is_named(tmp_path, capsys):
    """A misspelt key is rejected with its dotted name and the close match."""
    text = BUNDLED.replace("advection = 5.0", "advektion = 5.0")
    assert main(["validate", str(write(tmp_path, text))]) == 2
    error = capsys.readouterr().err
    assert "reservoir.advektion" in error
    assert "advection" in error


def test_bundled_reservoir_validates(capsys):
    """The bundled design is valid and summarizes its grid and task."""
    assert main(["validate", "reservoir"]) == 0
    assert "reservoir of 36 nodes" in capsys.readouterr().out
