"""The differentiable RC twin: assembly, integrators and gradients against references.

References: the closed-form decay of the discrete Laplacian's sine modes, SciPy's
``expm`` on the matrices that ``npdehw.sim.twin.assemble`` builds (a separate,
sparse assembly of the same graph), and finite differences.
"""

import networkx as nx
import numpy as np
import pytest
import scipy.linalg
import torch

from npdehw.hw.builder import build_circuit
from npdehw.hw.graph import build_diffusion_circuit
from npdehw.hw.mapping import CircuitMapping
from npdehw.models import exact
from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.fields import Constant
from npdehw.models.grid import Boundary, Grid
from npdehw.models.profiles import Noise
from npdehw.models.rc_twin import RCTwin
from npdehw.sim.twin import assemble

TAU = 1e-5


def resistors(graph):
    """Return the designators of all resistors of ``graph``."""
    return [key for _, _, key, data in graph.edges(keys=True, data=True)
            if data["kind"] == "resistor"]


def sourced_grid(shape=(4, 3), seed=5):
    """A grid with a 0.7 V side, zero-flux sides, decay resistors and current sources,
    its edge resistors spread over 0.5x to 2x so that no two are equal."""
    sides = {"x_low": Boundary(kind="dirichlet", value=0.7), "x_high": Boundary(kind="zero_flux"),
             "y_low": Boundary(kind="zero_flux"), "y_high": Boundary(kind="dirichlet")}
    grid = Grid(shape=shape, spacing=(1.0, 1.0), boundaries=sides)
    npde = DiffusionNPDE(grid=grid, diffusion=1.0, initial=Noise(low=-1, high=1, seed=seed),
                         end_time=1.0, decay=0.3, source=Constant(value=0.5))
    graph = build_diffusion_circuit(npde, CircuitMapping(time_scale_s=TAU, capacitance_f=1e-9))
    rng = np.random.default_rng(seed)
    for name in resistors(graph):
        data = next(d for _, _, k, d in graph.edges(keys=True, data=True) if k == name)
        data["value"] *= float(rng.uniform(0.5, 2.0))
    return graph


def expm_reference(graph, times):
    """Return V(t) from scipy.linalg.expm on the sparse assembly of sim.twin."""
    system = assemble(graph)
    matrix = system.conductance_s.toarray()
    rate = -matrix / system.capacitance_f[:, None]
    steady = np.linalg.solve(matrix, system.constant_a)
    start = system.initial_v - steady
    return np.array([steady + scipy.linalg.expm(t * rate) @ start for t in times])


def test_system_matches_sparse_assembly():
    """C, G and b of the twin equal those of sim.twin.assemble, sources included."""
    graph = sourced_grid()
    twin = RCTwin(graph, resistors(graph)[:5])
    capacitance, matrix, constant = (x.detach().numpy() for x in twin.system())
    system = assemble(graph)
    assert twin.nodes == system.nodes
    np.testing.assert_allclose(capacitance, system.capacitance_f, rtol=1e-15)
    np.testing.assert_allclose(matrix, system.conductance_s.toarray(), rtol=1e-13, atol=1e-20)
    np.testing.assert_allclose(constant, system.constant_a, rtol=1e-13)
    np.testing.assert_allclose(twin.initial_v.numpy(), system.initial_v, rtol=1e-15)


def test_rhs_matches_matrices():
    """rhs, which sums resistor currents, equals (b - G V) / C for a batch of states."""
    graph = sourced_grid()
    twin = RCTwin(graph, resistors(graph))
    capacitance, matrix, constant = twin.system()
    states = torch.randn(3, len(twin.nodes), dtype=torch.float64,
                         generator=torch.Generator().manual_seed(1))
    expected = (constant - states @ matrix.T) / capacitance
    torch.testing.assert_close(twin.rhs(states), expected, rtol=1e-13, atol=0.0)


@pytest.mark.parametrize("method", ["exact", "modal"])
def test_exact_methods_match_expm(method):
    """Both exact integrators reproduce expm(tA) with sources and a nonzero side."""
    graph = sourced_grid()
    times = np.array([0.0, 0.3, 1.0, 2.5]) * TAU
    twin = RCTwin(graph, resistors(graph))
    with torch.no_grad():
        voltages = twin(times, method=method).numpy()
    reference = expm_reference(graph, times)
    np.testing.assert_allclose(voltages, reference, rtol=0, atol=1e-12 * np.abs(reference).max())


def test_exact_matches_sine_mode_solution(heat1d):
    """heat1d's circuit decays like the discrete Laplacian's sine modes (closed form)."""
    graph = build_circuit(heat1d.npde, heat1d.mapping)
    times = np.linspace(0.0, heat1d.mapping.to_seconds(heat1d.npde.end_time), 6)
    with torch.no_grad():
        voltages = RCTwin(graph, ())(times).numpy()
    reference = exact.semi_discrete_modes(heat1d.diffusion, times / heat1d.mapping.time_scale_s)
    assert np.abs(voltages - reference).max() < 1e-12 * np.abs(reference).max()


@pytest.mark.parametrize("method,order", [("trapezoidal", 2), ("backward_euler", 1)])
def test_theta_convergence_order(method, order):
    """Halving the step divides the error against the exact trajectory by 2**order."""
    graph = sourced_grid()
    twin = RCTwin(graph, ())
    times = np.array([0.0, 0.5, 1.0]) * TAU
    with torch.no_grad():
        reference = twin(times, method="exact")
        errors = [float(torch.abs(twin(times, method=method, max_step_s=TAU / n) - reference)
                        .max()) for n in (40, 80, 160)]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0 ** order, rtol=0.1)


def test_modal_gradients_match_exact_on_repeated_eigenvalues():
    """The hand-written modal backward equals autograd through matrix_exp.

    The uniform, square zero-flux grid has repeated eigenvalues and a singular G,
    where autograd through eigh would return inf or NaN.
    """
    sides = {side: Boundary(kind="zero_flux") for side in ("x_low", "x_high", "y_low", "y_high")}
    grid = Grid(shape=(4, 4), spacing=(1.0, 1.0), boundaries=sides)
    npde = DiffusionNPDE(grid=grid, diffusion=1.0, initial=Noise(low=-1, high=1, seed=2),
                         end_time=1.0)
    graph = build_diffusion_circuit(npde, CircuitMapping(time_scale_s=TAU, capacitance_f=1e-9))
    twin = RCTwin(graph, resistors(graph))
    times = np.linspace(0.0, 3 * TAU, 7)
    weights = torch.randn(len(times), 2, len(twin.nodes), dtype=torch.float64,
                          generator=torch.Generator().manual_seed(3))
    starts = torch.randn(2, len(twin.nodes), dtype=torch.float64,
                         generator=torch.Generator().manual_seed(4))
    gradients = []
    for method in ("exact", "modal"):
        conductance = twin.conductance().detach().clone().requires_grad_(True)
        start = starts.clone().requires_grad_(True)
        (twin(times, start, method=method, conductance=conductance) * weights).sum().backward()
        gradients.append((conductance.grad, start.grad))
    for exact_grad, modal_grad in zip(*gradients):
        assert torch.isfinite(modal_grad).all()
        torch.testing.assert_close(modal_grad, exact_grad, rtol=1e-9, atol=0.0)


def test_gradient_matches_central_differences():
    """d(loss)/d(conductance) of the exact integrator against central differences."""
    graph = sourced_grid()
    names = resistors(graph)
    twin = RCTwin(graph, names)
    times = np.array([0.0, 0.4, 1.2]) * TAU

    def loss(conductance):
        return (twin(times, conductance=conductance) ** 2).sum()

    conductance = twin.conductance().detach().clone().requires_grad_(True)
    loss(conductance).backward()
    with torch.no_grad():
        for k in range(0, len(names), 4):
            step = 1e-5 * conductance[k]
            plus, minus = conductance.detach().clone(), conductance.detach().clone()
            plus[k] += step
            minus[k] -= step
            difference = (loss(plus) - loss(minus)) / (2 * step)
            assert abs(float(difference / conductance.grad[k]) - 1) < 1e-6


def test_free_capacitors_receive_gradients():
    """Freed capacitors train: their gradient equals central differences of the loss."""
    graph = sourced_grid()
    capacitors = [key for _, _, key, data in graph.edges(keys=True, data=True)
                  if data["kind"] == "capacitor"]
    twin = RCTwin(graph, (), free_capacitors=capacitors[:3])
    times = np.array([0.0, 0.5, 1.0]) * TAU
    start = twin.capacitance().detach().clone()
    capacitance = start.clone().requires_grad_(True)

    def loss(values):
        return (twin(times, capacitance=values) ** 2).sum()

    loss(capacitance).backward()
    with torch.no_grad():
        step = 1e-4 * start[1]
        plus, minus = start.clone(), start.clone()
        plus[1] += step
        minus[1] -= step
        difference = (loss(plus) - loss(minus)) / (2 * step)
    assert abs(float(difference / capacitance.grad[1]) - 1) < 1e-6


def test_trained_values_stay_in_range():
    """Conductances stay in the BoundedPositive range however far the raw values move."""
    graph = sourced_grid()
    twin = RCTwin(graph, resistors(graph), conductance_range_s=(1e-5, 1e-3),
                  initial_conductance_s=1e-4)
    with torch.no_grad():
        twin.conductance.raw.add_(torch.linspace(-50, 50, len(twin.designators)))
    values = twin.conductance().detach()
    assert float(values.min()) >= 1e-5
    assert float(values.max()) <= 1e-3


def test_rejects_unsupported_components():
    """A VCCS is outside the RC twin, and the error names it."""
    graph = nx.MultiGraph()
    graph.add_edge("n_0", "0", key="c1", kind="capacitor", value=1e-9, pos="n_0", neg="0")
    graph.add_edge("0", "n_0", key="g1", kind="vccs", value=1e-4, pos="0", neg="n_0",
                   ctrl_pos="n_0", ctrl_neg="0")
    with pytest.raises(ValueError, match="vccs g1"):
        RCTwin(graph, ())


def test_rejects_unknown_designator():
    """Training a resistor the circuit lacks raises KeyError naming it."""
    with pytest.raises(KeyError, match="r999"):
        RCTwin(sourced_grid(), ["r999"])
