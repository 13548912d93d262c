"""The NPDE family designs through the pipeline in real ngspice, against physics."""

import math
import re

import numpy as np
import pytest
import torch
from scipy import ndimage

from npdehw.design import load_design
from npdehw.design_models import build_torch_mlp
from npdehw.export import export_run
from npdehw.models.profiles import Digit
from npdehw.pipeline import run_design

_RUNS = {}


def run(name):
    """Return the pipeline result of a bundled design, run once per test session."""
    if name not in _RUNS:
        _RUNS[name] = run_design(name)
    return _RUNS[name]


@pytest.mark.parametrize("name", ["fisher_kpp_1d", "allen_cahn_2d", "schrodinger_1d",
                                  "cellular_edge", "mlp_from_torch"])
def test_twin_agrees_with_spice(name):
    """Twin and ngspice agree within 1e-3 relative L2 over all nodes and output times."""
    assert run(name).metrics["twin_vs_spice"]["relative_l2"] < 1e-3


@pytest.mark.parametrize("simulator", ["spice", "twin"])
def test_fisher_front_speed(simulator):
    """The Fisher-KPP front travels within 5 % of 2 sqrt(r D) once formed."""
    result = run("fisher_kpp_1d")
    x = result.design.npde.grid.coordinates()[0]
    times = result.model_time
    positions = []
    for row in result.voltages[simulator]:
        k = int(np.argmax(row < 0.5))
        positions.append(np.interp(0.5, [row[k], row[k - 1]], [x[k], x[k - 1]]))
    late = times >= 15.0
    speed = np.polyfit(times[late], np.array(positions)[late], 1)[0]
    assert abs(speed / (2 * math.sqrt(1.0 * 1.0)) - 1) < 0.05


def packet_moments(result, simulator):
    npde = result.design.npde
    u = result.voltages[simulator][:, npde.field_slice("u")]
    v = result.voltages[simulator][:, npde.field_slice("v")]
    x = npde.grid.coordinates()[0]
    density = u**2 + v**2
    norm = npde.grid.spacing[0] * density.sum(axis=1)
    mean = (density * x).sum(axis=1) / density.sum(axis=1)
    width = np.sqrt((density * (x - mean[:, None]) ** 2).sum(axis=1) / density.sum(axis=1))
    return norm, width


def test_schrodinger_twin_conserves_norm():
    """Crank-Nicolson keeps the norm of the packet within 1e-8."""
    norm, _ = packet_moments(run("schrodinger_1d"), "twin")
    assert np.max(np.abs(norm / norm[0] - 1)) < 1e-8
    assert norm[0] == pytest.approx(1.0, abs=1e-6)


def test_schrodinger_spice_conserves_norm():
    """ngspice keeps the norm within 1e-3 over the run."""
    norm, _ = packet_moments(run("schrodinger_1d"), "spice")
    assert np.max(np.abs(norm / norm[0] - 1)) < 1e-3


@pytest.mark.parametrize("simulator", ["spice", "twin"])
def test_schrodinger_width_follows_free_packet(simulator):
    """The width follows sigma0 sqrt(1 + (t / (2 sigma0^2))^2) within 1 %."""
    result = run("schrodinger_1d")
    _, width = packet_moments(result, simulator)
    expected = 1.0 * np.sqrt(1 + (result.model_time / 2.0) ** 2)
    assert np.max(np.abs(width / expected - 1)) < 0.01
    assert width[-1] / width[0] > 2.0


@pytest.mark.parametrize("simulator", ["spice", "twin"])
def test_cellular_edge_map(simulator):
    """The settled output is the image's edge map, pixel for pixel."""
    result = run("cellular_edge")
    npde = result.design.npde
    image = Digit(index=0, threshold=8.0).image()[::-1].T
    eroded = ndimage.binary_erosion(image, structure=np.ones((3, 3)), border_value=0)
    expected = image & ~eroded
    state = result.voltages[simulator][-1, npde.field_slice("x")].reshape(npde.grid.shape)
    assert expected.sum() > 5
    assert np.array_equal(state > 0, expected)
    assert np.min(np.abs(state)) > 0.9


@pytest.mark.parametrize("simulator", ["spice", "twin"])
def test_mlp_circuit_settles_to_torch_output(simulator):
    """The output nodes settle at the torch MLP's output."""
    result = run("mlp_from_torch")
    module = build_torch_mlp([4, 8, 3], "tanh", seed=0)
    with torch.no_grad():
        expected = module(torch.tensor([0.5, -0.25, 0.8, -0.6], dtype=torch.float64)).numpy()
    settled = result.voltages[simulator][-1, -3:]
    np.testing.assert_allclose(settled, expected, atol=1e-5)


def test_bjt_cells_are_simulated(tmp_path):
    """With tanh_cell = bjt the netlist has transistor pairs and ngspice departs from tanh."""
    result = run_design("mlp_from_torch_bjt", export=lambda r: export_run(r, tmp_path / "run"))
    netlist = (tmp_path / "run" / "netlist.cir").read_text()
    assert re.search(r"^q_1 c1 bp tail", netlist, flags=re.MULTILINE)
    assert "tanh(" not in netlist
    error = result.metrics["analysis"]["spice"]["max_abs_error"]
    assert 1e-3 < error < 3e-2
    assert result.metrics["analysis"]["twin"]["max_abs_error"] < 1e-5


def test_family_run_folder_exports(tmp_path):
    """A two-field design exports a plot per field and a BOM that lists the VCCS elements."""
    design = load_design("schrodinger_1d")
    run_design(design, export=lambda r: export_run(r, tmp_path / "run"))
    folder = tmp_path / "run"
    assert (folder / "fields.png").stat().st_size > 0
    assert (folder / "fields_v.png").stat().st_size > 0
    bom = (folder / "bom.csv").read_text()
    assert "vccs" in bom
