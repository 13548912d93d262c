"""Linear NPDE family members in real ngspice against the model's own matrix exponential."""

import numpy as np
import pytest

from npdehw.design import load_design
from npdehw.pipeline import run_design

CIRCUIT = """
[circuit]
time_scale_s = 1e-6
capacitance_f = 1e-9

[simulation]
output_times = 11
twin_steps = 1000
"""

PERIODIC_RING = """
name = "ring"
[npde]
fields = ["u"]
shape = [40]
spacing = [0.1]
end_time = 0.5
diffusion = 0.2
boundary = { default = { kind = "periodic" } }
initial = { kind = "gaussian", center = [0.5], width = 0.3 }
"""

ANISOTROPIC = """
name = "aniso"
[npde]
fields = ["u"]
shape = [12, 10]
spacing = [0.1, 0.1]
end_time = 0.2
diffusion = [0.05, 0.0125]
boundary = { x_low = { kind = "dirichlet", value = 0.5 }, x_high = { kind = "zero_flux" }, y_low = { kind = "periodic" }, y_high = { kind = "periodic" } }
initial = { kind = "gaussian", center = [0.6, 0.5], width = 0.2 }
"""

ADVECTION = """
name = "advection"
[npde]
fields = ["u"]
shape = [60]
spacing = [0.1]
end_time = 1.0
diffusion = 0.05
boundary = { default = { kind = "dirichlet", value = 0.0 } }
initial = { kind = "gaussian", center = [2.0], width = 0.4 }
couplings = [{ target = "u", source = "u", kernel = [5.0, -5.0, 0.0], label = "advection" }]
"""

HARMONIC = """
name = "harmonic"
[npde]
shape = [160]
length = [16.0]
end_time = 1.0
boundary = { default = { kind = "dirichlet", value = 0.0 } }
[npde.model]
kind = "schrodinger"
packet = { center = 9.0, width = 0.7, momentum = 1.0 }
potential = { kind = "gaussian", center = [8.0], width = 3.0, amplitude = -2.0, offset = 2.0 }
"""


def run_text(tmp_path, text):
    path = tmp_path / "design.toml"
    path.write_text(text + CIRCUIT)
    return run_design(load_design(path))


@pytest.mark.parametrize("text", [PERIODIC_RING, ANISOTROPIC, ADVECTION, HARMONIC],
                         ids=["periodic", "anisotropic", "one_way", "potential"])
def test_spice_matches_matrix_exponential(tmp_path, text):
    """ngspice and the twin match exp(t A) u0 of the model within 1e-4 relative L2."""
    result = run_text(tmp_path, text)
    assert result.metrics["spice_vs_reference"]["relative_l2"] < 1e-4
    assert result.metrics["twin_vs_reference"]["relative_l2"] < 1e-4


def test_periodic_ring_conserves_charge(tmp_path):
    """A periodic ring has no path out, so the mean voltage stays constant."""
    result = run_text(tmp_path, PERIODIC_RING)
    mean = result.voltages["spice"].mean(axis=1)
    np.testing.assert_allclose(mean, mean[0], rtol=1e-5)


def test_one_way_coupling_uses_vccs(tmp_path):
    """An upwind advection stencil needs transconductances; the packet drifts downstream."""
    result = run_text(tmp_path, ADVECTION)
    kinds = [data["kind"] for _, _, data in result.graph.edges(data=True)
             if data["term"] == "advection"]
    assert "vccs" in kinds
    x = result.design.npde.grid.coordinates()[0]
    first, last = result.voltages["spice"][0], result.voltages["spice"][-1]
    drift = (last * x).sum() / last.sum() - (first * x).sum() / first.sum()
    assert drift == pytest.approx(0.5, abs=0.05)


PARAXIAL = """
name = "beam"
[npde]
shape = [300]
length = [30.0]
end_time = 8.0
boundary = { default = { kind = "dirichlet", value = 0.0 } }
[npde.model]
kind = "paraxial"
wavenumber = 2.0
packet = { center = 15.0, width = 1.0 }
[analysis]
kind = "wave_packet"
initial_width = 1.0
coefficient = 0.25
"""


@pytest.mark.parametrize("simulator", ["spice", "twin"])
def test_paraxial_beam_spreads_by_wavenumber(tmp_path, simulator):
    """A Gaussian beam widens as w0 sqrt(1 + (z / (2 k w0^2))^2) along the distance z."""
    analysis = run_text(tmp_path, PARAXIAL).metrics["analysis"]
    assert analysis[simulator]["max_width_error"] < 0.01
    assert analysis[simulator]["width"][-1] > 1.25
