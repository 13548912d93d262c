"""The continuous adjoint against autograd through the exact integrator, and both
against central finite differences.

The loss is the squared mismatch of probe voltages at a few times against the
trajectory of a second circuit (the hidden one of ``inverse_diffusion``, or heat1d
with perturbed resistors), taken at the first circuit's conductances. A nonlinear
case, the logistic equation, checks the adjoint against autograd through its
closed-form solution.
"""

import numpy as np
import pytest
import torch

from npdehw.design import load_design
from npdehw.hw.builder import build_circuit
from npdehw.inverse_run import build_problem
from npdehw.models.adjoint import adjoint_gradient
from npdehw.models.rc_twin import RCTwin


def squared_mismatch(probes, target):
    """Return the loss of observed states (shape (m, n)) against target (m, len(probes))."""
    return lambda states: ((states[:, probes] - target) ** 2).sum()


def gradients(twin, conductance, times, loss):
    """Return (adjoint result, autograd gradient through the exact integrator)."""
    result = adjoint_gradient(lambda u, g: twin.rhs(u, conductance=g), twin.initial_v.numpy(),
                              conductance.numpy(), times, loss)
    leaf = conductance.clone().requires_grad_(True)
    loss(twin(np.concatenate([[0.0], times]), conductance=leaf)[1:]).backward()
    return result, leaf.grad.numpy()


def central_difference(twin, conductance, times, loss, k, share=1e-4):
    """Return d(loss)/d(conductance[k]) by central differences of the exact integrator."""
    step = share * float(conductance[k])
    values = []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            moved = conductance.clone()
            moved[k] += sign * step
            values.append(float(loss(twin(np.concatenate([[0.0], times]),
                                          conductance=moved)[1:])))
    return (values[0] - values[1]) / (2 * step)


def relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check_finite_differences(twin, conductance, times, loss, result, autograd, count=6):
    """Compare both gradients with central differences on the largest components."""
    for k in np.argsort(-np.abs(autograd))[:count]:
        difference = central_difference(twin, conductance, times, loss, int(k))
        assert abs(result.gradient[k] / difference - 1) < 1e-4, f"adjoint, edge {k}"
        assert abs(autograd[k] / difference - 1) < 1e-4, f"autograd, edge {k}"


def test_adjoint_heat1d_line():
    """heat1d (64 nodes, 65 resistors): adjoint and autograd agree to 1e-6."""
    design = load_design("heat1d")
    graph = build_circuit(design.npde, design.mapping)
    names = [key for _, _, key, data in graph.edges(keys=True, data=True)
             if data["kind"] == "resistor"]
    twin = RCTwin(graph, names)
    stop = design.mapping.to_seconds(design.npde.end_time)
    times = np.linspace(stop / 5, stop, 5)
    conductance = twin.conductance().detach()
    factors = torch.from_numpy(np.random.default_rng(1).uniform(0.8, 1.25, len(names)))
    probes = [5, 15, 31, 50]
    with torch.no_grad():
        target = twin(np.concatenate([[0.0], times]), conductance=conductance * factors)[1:]
    loss = squared_mismatch(probes, target[:, probes])
    result, autograd = gradients(twin, conductance, times, loss)
    assert relative(result.gradient, autograd) < 1e-6
    check_finite_differences(twin, conductance, times, loss, result, autograd)


def test_adjoint_inverse_diffusion_grid():
    """The 16 x 16 grid of inverse_diffusion (544 edges): agreement to 1e-6 at the guess."""
    problem = build_problem(load_design("inverse_diffusion"))
    twin = RCTwin(problem.hidden, problem.edges)
    start = torch.from_numpy(problem.starts[0])
    twin.initial_v.copy_(start)
    times = problem.time_s[::5]
    probes = list(range(0, len(problem.nodes), 7))
    with torch.no_grad():
        target = twin(np.concatenate([[0.0], times]))[1:, probes]
    guess = torch.full((len(problem.edges),), 1.0 / 10e3, dtype=torch.float64)
    loss = squared_mismatch(probes, target)
    result, autograd = gradients(twin, guess, times, loss)
    assert result.loss > 0
    assert relative(result.gradient, autograd) < 1e-6
    check_finite_differences(twin, guess, times, loss, result, autograd)


def logistic(t, rate, capacity, start):
    """Closed-form solution of du/dt = rate u (1 - u / capacity)."""
    return capacity / (1 + (capacity / start - 1) * torch.exp(-rate * t))


@pytest.mark.parametrize("method", ["LSODA", "Radau", "DOP853"])
def test_adjoint_nonlinear_logistic(method):
    """A nonlinear f: the adjoint matches autograd through the closed form, theta and u0."""
    theta = torch.tensor([1.3, 2.0], dtype=torch.float64)
    start = torch.tensor([0.1, 0.5, 3.0], dtype=torch.float64)
    times = np.array([0.2, 0.7, 1.5, 3.0])
    target = torch.tensor([[0.2, 0.8, 2.5], [0.4, 1.2, 2.2], [0.9, 1.6, 2.1],
                           [1.7, 1.9, 2.0]], dtype=torch.float64)

    def loss(states):
        return ((states - target) ** 2).sum() + (states[-1] ** 3).sum()

    result = adjoint_gradient(lambda u, p: p[0] * u * (1 - u / p[1]), start.numpy(),
                              theta.numpy(), times, loss, method=method)
    parameters = theta.clone().requires_grad_(True)
    initial = start.clone().requires_grad_(True)
    t = torch.from_numpy(times)[:, None]
    reference = loss(logistic(t, parameters[0], parameters[1], initial))
    reference.backward()
    assert abs(result.loss / float(reference.detach()) - 1) < 1e-8
    assert relative(result.gradient, parameters.grad.numpy()) < 1e-6
    assert relative(result.initial_gradient, initial.grad.numpy()) < 1e-6


def test_adjoint_rejects_unordered_times():
    """Observation times must increase."""
    with pytest.raises(ValueError, match="increasing"):
        adjoint_gradient(lambda u, p: -p * u, np.ones(1), np.ones(1), [0.5, 0.2],
                         lambda s: s.sum())
