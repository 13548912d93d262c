"""The bundled heat designs through the whole pipeline, against physics, in real ngspice."""

import csv
import math
import re
import subprocess

import numpy as np
import pytest

from npdehw.design import load_design
from npdehw.export import export_run
from npdehw.hw.eseries import is_series_value
from npdehw.models import exact
from npdehw.pipeline import run_design


@pytest.fixture(scope="module")
def heat1d_run():
    """The heat1d pipeline result."""
    return run_design("heat1d")


def test_heat1d_spice_matches_exact(heat1d_run):
    """ngspice is within 2e-5 of the peak of the exact semi-discrete solution everywhere."""
    spice, reference = heat1d_run.voltages["spice"], heat1d_run.voltages["reference"]
    assert len(heat1d_run.time_s) >= 10
    peak = np.abs(reference).max()
    assert np.abs(spice - reference).max() <= 2e-5 * peak


def test_heat1d_twin_matches_spice(heat1d_run):
    """The twin is within 5e-5 of the peak of ngspice at every node and output time."""
    spice, twin = heat1d_run.voltages["spice"], heat1d_run.voltages["twin"]
    assert np.abs(twin - spice).max() <= 5e-5 * np.abs(spice).max()


def test_heat1d_reference_is_exact_not_circuit(heat1d_run):
    """The reference used is the model's own exp(t A) u0, independent of the circuit."""
    design = heat1d_run.design
    independent = exact.semi_discrete_expm(design.diffusion, heat1d_run.model_time)
    np.testing.assert_allclose(heat1d_run.voltages["reference"], independent, atol=1e-12)


def test_heat1d_continuum_gap_near_prediction(heat1d_run):
    """The semi-discrete solution departs from the continuum by about (k pi h)^2 / 12 per rate."""
    design = heat1d_run.design
    h, t = design.npde.grid.spacing[0], design.npde.end_time
    reference, continuum = (heat1d_run.voltages[k][-1] for k in ("reference", "continuum"))
    x = design.npde.grid.coordinates()[0]
    predicted = sum(a * np.sin(k * math.pi * x) * np.exp(-(k * math.pi) ** 2 * t)
                    * (k * math.pi) ** 2 * t * (k * math.pi * h) ** 2 / 12
                    for k, a in ((1, 1.0), (3, 0.5)))
    np.testing.assert_allclose(reference - continuum, predicted, rtol=0.02,
                               atol=1e-3 * np.abs(predicted).max())


@pytest.mark.parametrize("name", ["heat2d", "heat2d_zero_flux"])
def test_heat2d_twin_agrees_with_spice(name):
    """Twin and ngspice agree within 1e-3 relative L2 over all nodes and output times."""
    result = run_design(name)
    assert result.voltages["spice"].shape == (11, 32 * 32)
    assert result.metrics["twin_vs_spice"]["relative_l2"] < 1e-3
    assert result.metrics["spice_vs_reference"]["relative_l2"] < 1e-3


def test_zero_flux_conserves_charge():
    """With zero-flux sides and equal capacitors the mean voltage stays constant in ngspice."""
    result = run_design("heat2d_zero_flux")
    mean = result.voltages["spice"].mean(axis=1)
    np.testing.assert_allclose(mean, mean[0], rtol=1e-4)


@pytest.fixture(scope="module")
def heat2d_folder(tmp_path_factory):
    """A run folder of the default design."""
    out = tmp_path_factory.mktemp("runs") / "heat2d"
    result = run_design(None, export=lambda r: export_run(r, out))
    return out, result


def test_quantized_netlist_uses_e96_resistors(heat2d_folder):
    """Every resistor in netlist_quantized.cir is an E96 value; capacitors are E12."""
    out, _ = heat2d_folder
    lines = (out / "netlist_quantized.cir").read_text().splitlines()
    resistors = [float(line.split()[3]) for line in lines if re.match(r"^r\d", line)]
    capacitors = [float(line.split()[3]) for line in lines if re.match(r"^c\d", line)]
    assert len(resistors) == 2 * 32 * 31 + 4 * 32
    assert all(is_series_value(value, "E96") for value in resistors)
    assert all(is_series_value(value, "E12") for value in capacitors)
    ideal = [float(line.split()[3]) for line in (out / "netlist.cir").read_text().splitlines()
             if re.match(r"^r\d", line)]
    assert not all(is_series_value(value, "E96") for value in ideal)


def test_quantization_error_reported(heat2d_folder):
    """The rounded circuit differs from the ideal one, and the report states by how much."""
    out, result = heat2d_folder
    error = result.metrics["rounded_spice_vs_ideal_spice"]["relative_l2"]
    assert 1e-5 < error < 2e-2
    assert f"{error:.3e}" in (out / "report.md").read_text()


def test_bom_counts_every_component(heat2d_folder):
    """The BOM quantities add up to the number of components and designators are listed."""
    out, result = heat2d_folder
    with (out / "bom.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sum(int(row["quantity"]) for row in rows) == result.rounded_graph.number_of_edges()
    for row in rows:
        assert len(row["designators"].split()) == int(row["quantity"])


def test_run_folder_has_every_file(heat2d_folder):
    """The run folder contains the netlists, BOM, results, report and plots."""
    out, _ = heat2d_folder
    for name in ("netlist.cir", "netlist_quantized.cir", "bom.csv", "results.json",
                 "report.md", "fields.png", "errors.png", "waveforms.csv"):
        assert (out / name).stat().st_size > 0, name


def test_plain_ngspice_runs_exported_netlist(heat2d_folder):
    """`ngspice -b netlist.cir` runs the export and prints the probes matching the pipeline."""
    out, result = heat2d_folder
    completed = subprocess.run(["ngspice", "-b", "netlist.cir"], cwd=out, capture_output=True,
                               text=True, timeout=300, check=True)
    assert "v(n_16_16)" in completed.stdout.lower()
    rows = [line.split() for line in completed.stdout.splitlines()
            if re.match(r"^\d+\s+[-+\d.e]+\s+[-+\d.e]+", line)]
    times = np.array([float(r[1]) for r in rows])
    centre = np.array([float(r[2]) for r in rows])
    column = result.nodes.index("n_16_16")
    design = result.design
    reference = exact.semi_discrete_modes(design.diffusion, times / design.mapping.time_scale_s)
    np.testing.assert_allclose(centre, reference[:, column], atol=1e-5)


def test_load_design_is_deterministic():
    """Loading the same design twice gives equal specifications."""
    first, second = load_design("heat2d"), load_design("heat2d")
    assert first.diffusion == second.diffusion
    assert first.mapping == second.mapping
    assert first.simulation == second.simulation
