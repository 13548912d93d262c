"""Closed-form probe sensitivities against autograd, and Cramer-Rao bounds on parallel edges."""

import numpy as np
import torch

from npdehw.hw.edge_grid import build_edge_grid, edge_positions, scale_resistors
from npdehw.hw.mapping import CircuitMapping
from npdehw.models.observability import cramer_rao_bounds, log_sensitivities
from npdehw.models.rc_twin import RCTwin

TAU = 1e-5


def small_grid():
    """A 3 x 3 grid with Dirichlet sides and edge resistors spread over 0.5x to 2x."""
    graph = build_edge_grid((3, 3), "dirichlet", CircuitMapping(time_scale_s=TAU,
                                                                capacitance_f=1e-9))
    names = list(edge_positions(graph))
    factors = np.random.default_rng(4).uniform(0.5, 2.0, len(names))
    return scale_resistors(graph, dict(zip(names, factors))), names


def test_sensitivities_match_autograd_jacobian():
    """dV/d ln g from the modal formula equals autograd through matrix_exp."""
    graph, names = small_grid()
    twin = RCTwin(graph, names)
    starts = torch.from_numpy(np.random.default_rng(5).uniform(-1, 1, (2, len(twin.nodes))))
    times = np.array([0.2, 0.9, 3.0]) * TAU
    probes = [0, 4, 7]
    capacitance, matrix, _ = (x.detach() for x in twin.system())
    conductance = twin.conductance().detach()
    closed_form = log_sensitivities(capacitance, matrix, twin.trainable_incidence(),
                                    conductance, starts, times, probes)

    def probe_voltages(log_conductance):
        voltages = twin(np.concatenate([[0.0], times]), starts,
                        conductance=torch.exp(log_conductance))[1:]
        return voltages.permute(1, 0, 2)[:, :, probes].reshape(-1)

    reference = torch.autograd.functional.jacobian(probe_voltages, torch.log(conductance))
    scale = float(reference.abs().max())
    assert np.abs(closed_form - reference.numpy()).max() < 1e-12 * scale


def test_parallel_corner_edges_have_infinite_bounds():
    """The two boundary resistors of a corner node are in parallel: their bound is inf."""
    graph, names = small_grid()
    twin = RCTwin(graph, names)
    starts = np.random.default_rng(6).uniform(-1, 1, (3, len(twin.nodes)))
    times = np.linspace(0.25, 5.0, 20) * TAU
    capacitance, matrix, _ = (x.detach() for x in twin.system())
    sensitivities = log_sensitivities(capacitance, matrix, twin.trainable_incidence(),
                                      twin.conductance().detach(), starts, times,
                                      range(len(twin.nodes)))
    bounds = cramer_rao_bounds(sensitivities, 1e-3)
    positions = edge_positions(graph)
    corners = [k for k, name in enumerate(names)
               if sorted(np.abs(positions[name] - 1.0)) == [1.0, 1.5]]
    assert len(corners) == 8
    assert np.all(np.isinf(bounds[corners]))
    others = np.delete(bounds, corners)
    assert np.all(np.isfinite(others))
    assert others.max() < 0.05


def test_bounds_scale_with_noise():
    """The bound is proportional to the noise level, as for a linear Gaussian model."""
    sensitivities = np.random.default_rng(7).normal(size=(40, 5))
    one = cramer_rao_bounds(sensitivities, 1e-3)
    ten = cramer_rao_bounds(sensitivities, 1e-2)
    np.testing.assert_allclose(ten, 10 * one, rtol=1e-12)
    expected = 1e-3 * np.sqrt(np.diag(np.linalg.inv(sensitivities.T @ sensitivities)))
    np.testing.assert_allclose(one, expected, rtol=1e-10)
