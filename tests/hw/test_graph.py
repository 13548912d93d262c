"""Circuit graph built from the diffusion NPDE: component values and node equations."""

import dataclasses

import numpy as np
import pytest

from npdehw.hw.graph import build_diffusion_circuit, components
from npdehw.hw.mapping import CircuitMapping
from npdehw.models.fields import Constant
from npdehw.models.grid import Boundary
from npdehw.sim.twin import assemble


def with_decay_and_source(design):
    grid = dataclasses.replace(design.diffusion.grid, boundaries={
        "x_low": Boundary(kind="dirichlet", value=0.25), "x_high": Boundary(kind="zero_flux")})
    return dataclasses.replace(design.diffusion, grid=grid, decay=3.0, source=Constant(value=2.0))


def test_diffusion_resistance(heat1d):
    """Neighbour resistors are a h^2 / (C D)."""
    mapping = heat1d.mapping
    graph = build_diffusion_circuit(heat1d.diffusion, mapping)
    h = heat1d.diffusion.grid.spacing[0]
    expected = mapping.time_scale_s * h**2 / (mapping.capacitance_f * heat1d.diffusion.diffusion)
    values = [c["value"] for c in components(graph, "resistor")]
    assert len(values) == 65
    np.testing.assert_allclose(values, expected, rtol=1e-13)


def test_decay_source_and_dirichlet(heat1d):
    """Decay becomes a/(C gamma) to ground, the source C v s / a, the side a source of v u_b."""
    npde = with_decay_and_source(heat1d)
    mapping = CircuitMapping(time_scale_s=2e-3, voltage_scale_v=0.5, capacitance_f=4.7e-9)
    graph = build_diffusion_circuit(npde, mapping)
    decay = [c["value"] for c in components(graph) if c["term"] == "decay"]
    np.testing.assert_allclose(decay, 2e-3 / (4.7e-9 * 3.0), rtol=1e-13)
    currents = [c["value"] for c in components(graph, "isource")]
    np.testing.assert_allclose(currents, 4.7e-9 * 0.5 * 2.0 / 2e-3, rtol=1e-13)
    sources = list(components(graph, "vsource"))
    assert len(sources) == 1
    assert sources[0]["value"] == pytest.approx(0.125)


def test_initial_voltages(heat1d):
    """Capacitor initial voltages are the initial condition times the voltage scale."""
    mapping = dataclasses.replace(heat1d.mapping, voltage_scale_v=2.0)
    graph = build_diffusion_circuit(heat1d.diffusion, mapping)
    ic = [c["ic"] for c in components(graph, "capacitor")]
    np.testing.assert_allclose(ic, 2.0 * heat1d.diffusion.initial_state(), rtol=1e-14)


@pytest.mark.parametrize("variant", ["plain", "decay_source_mixed"])
def test_node_equations_equal_model(heat1d, variant):
    """The circuit's C dV/dt = -G V + b, rescaled, is the model's du/dt = A u + b."""
    npde = heat1d.diffusion if variant == "plain" else with_decay_and_source(heat1d)
    mapping = CircuitMapping(time_scale_s=2e-3, voltage_scale_v=0.5, capacitance_f=4.7e-9)
    system = assemble(build_diffusion_circuit(npde, mapping))
    matrix, constant = npde.operator()
    a, v = mapping.time_scale_s, mapping.voltage_scale_v
    circuit_matrix = -a * system.conductance_s.toarray() / system.capacitance_f[:, None]
    np.testing.assert_allclose(circuit_matrix, matrix.toarray(), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a * system.constant_a / system.capacitance_f / v, constant,
                               rtol=1e-12, atol=1e-12)


def test_designators_unique_and_safe(heat1d):
    """Every component has a unique designator made of a letter and a number."""
    graph = build_diffusion_circuit(heat1d.diffusion, heat1d.mapping)
    keys = [key for _, _, key in graph.edges(keys=True)]
    assert len(keys) == len(set(keys))
    assert all(key[0] in "rcvi" and key[1:].isdigit() for key in keys)
