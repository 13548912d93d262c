"""Theta-scheme integrators against closed forms, across back ends, and their gradients."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from npdehw.models.integrators import LinearStepper


def chain(n, g=2.0, g_ground=0.5):
    """A resistor chain with a resistor to ground at each end: G of shape (n, n)."""
    main = np.full(n, 2 * g)
    main[0] = main[-1] = g + g_ground
    return sp.diags([main, -g * np.ones(n - 1), -g * np.ones(n - 1)], [0, 1, -1]).tocsr()


def test_trapezoidal_amplification_factor():
    """One RC node: each trapezoidal step multiplies V by (1 - x/2) / (1 + x/2), x = dt/RC."""
    stepper = LinearStepper([2.0], sp.csr_matrix([[0.5]]), dt=0.4)
    states = stepper.integrate(torch.tensor([1.0], dtype=torch.float64),
                               torch.zeros(1, dtype=torch.float64), n_steps=5)
    x = 0.4 * 0.5 / 2.0
    expected = ((1 - x / 2) / (1 + x / 2)) ** np.arange(6)
    np.testing.assert_allclose(states[:, 0].numpy(), expected, rtol=1e-14)


@pytest.mark.parametrize("method,order", [("trapezoidal", 2), ("backward_euler", 1)])
def test_convergence_order(method, order):
    """Halving dt divides the error against exp(-t/RC) by 2**order."""
    errors = []
    for n_steps in (20, 40, 80):
        stepper = LinearStepper([1.0], sp.csr_matrix([[1.0]]), dt=1.0 / n_steps, method=method)
        final = stepper.integrate(torch.tensor([1.0], dtype=torch.float64),
                                  torch.zeros(1, dtype=torch.float64), n_steps)[-1, 0]
        errors.append(abs(final.item() - np.exp(-1.0)))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0**order, rtol=0.05)


def test_steady_state_with_constant_source(rng):
    """With a constant b the state settles at G^-1 b."""
    n = 12
    conductance = chain(n)
    constant = rng.normal(size=n)
    stepper = LinearStepper(np.ones(n), conductance, dt=5.0, method="backward_euler")
    final = stepper.integrate(torch.zeros(n, dtype=torch.float64),
                              torch.from_numpy(constant), n_steps=400)[-1]
    expected = np.linalg.solve(conductance.toarray(), constant)
    np.testing.assert_allclose(final.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_dense_and_sparse_backends_agree(rng):
    """Both back ends produce the same trajectory to rounding error."""
    n = 40
    conductance = chain(n)
    capacitance = rng.uniform(0.5, 2.0, size=n)
    start = torch.from_numpy(rng.normal(size=n))
    constant = torch.from_numpy(rng.normal(size=n))
    runs = [LinearStepper(capacitance, conductance, 0.1, backend=b).integrate(start, constant, 30)
            for b in ("dense", "sparse")]
    np.testing.assert_allclose(runs[0].numpy(), runs[1].numpy(), rtol=0, atol=1e-12)


def test_sparse_gradient_matches_dense(rng):
    """The sparse back end's adjoint solve gives the dense autograd gradient."""
    n = 25
    conductance = chain(n)
    capacitance = rng.uniform(0.5, 2.0, size=n)
    weights = torch.from_numpy(rng.normal(size=n))
    gradients = []
    for backend in ("dense", "sparse"):
        start = torch.linspace(0, 1, n, dtype=torch.float64).requires_grad_()
        stepper = LinearStepper(capacitance, conductance, 0.05, backend=backend)
        final = stepper.integrate(start, torch.zeros(n, dtype=torch.float64), 15)[-1]
        (final * weights).sum().backward()
        gradients.append(start.grad.numpy())
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-10, atol=1e-14)


def test_invalid_method_rejected():
    """An unknown method name raises and lists the valid ones."""
    with pytest.raises(ValueError, match="trapezoidal"):
        LinearStepper([1.0], sp.csr_matrix([[1.0]]), 0.1, method="rk4")
