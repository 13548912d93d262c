"""Loss gradients of an ODE trajectory by the continuous adjoint method.

For ``du/dt = f(u, theta)``, ``u(0) = u0`` and a loss ``J(u(t_1), ..., u(t_m))``:

1. the forward pass integrates ``u`` with ``scipy.integrate.solve_ivp`` one
   observation interval at a time, keeping each interval's dense output;
2. the backward pass integrates the adjoint ``dlambda/dt = -(df/du)^T lambda`` from
   ``t_m`` down to 0, adding the jump ``dJ/du(t_k)`` at each observation time, and in
   the same solve the quadrature ``dmu/dt = -(df/dtheta)^T lambda``, so that
   ``dJ/dtheta = mu(0) = integral of lambda^T df/dtheta dt`` over ``[0, t_m]``.

The state ``u`` is never integrated backward (for diffusion that is ill-posed): the
backward pass reads it from the forward dense output. The products
``lambda^T df/du`` and ``lambda^T df/dtheta`` are vector-Jacobian products from torch
autograd, so ``f`` may be any torch function, linear or not. Implicit methods (Radau,
BDF, LSODA) get Jacobians from ``torch.autograd.functional.jacobian``, as sparse
matrices except for LSODA, which takes dense ones; RC grids are stiff.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from scipy.integrate import solve_ivp

from npdehw.models.integrators import single_thread

__all__ = ["AdjointResult", "adjoint_gradient"]

IMPLICIT = ("Radau", "BDF", "LSODA")


@dataclasses.dataclass(frozen=True)
class AdjointResult:
    """Loss and gradients from one forward and one backward solve.

    Attributes:
        loss: J at the forward solution.
        gradient: dJ/dtheta, shape ``(p,)``.
        initial_gradient: dJ/du0 = lambda(0), shape ``(n,)``.
        states: u at the observation times, shape ``(m, n)``.
        forward_evaluations, backward_evaluations: right-hand-side evaluations
            of each pass (one vector-Jacobian product each in the backward pass).
    """

    loss: float
    gradient: np.ndarray
    initial_gradient: np.ndarray
    states: np.ndarray
    forward_evaluations: int
    backward_evaluations: int


class _Problem:
    """``f(u, theta)`` in torch, seen by SciPy as NumPy functions of ``(t, y)``."""

    def __init__(self, rhs, parameters):
        self.rhs = rhs
        self.theta = torch.as_tensor(parameters, dtype=torch.float64).detach().clone()
        self.n_parameters = self.theta.numel()

    def forward(self, _t, u):
        with torch.no_grad():
            return self.rhs(torch.from_numpy(u), self.theta).numpy()

    def state_jacobian(self, _t, u):
        matrix = _jacobian(lambda x: self.rhs(x, self.theta), torch.from_numpy(u))
        return sp.csc_matrix(matrix)

    def products(self, u, weight):
        """Return ``(weight^T df/du, weight^T df/dtheta)`` at state ``u``."""
        state = torch.from_numpy(u).requires_grad_(True)
        theta = self.theta.clone().requires_grad_(True)
        with torch.enable_grad():
            value = self.rhs(state, theta)
            by_state, by_theta = torch.autograd.grad(value, (state, theta),
                                                     grad_outputs=torch.from_numpy(weight),
                                                     allow_unused=True)
        return (_zeros_if_none(by_state, state).numpy(),
                _zeros_if_none(by_theta, theta).reshape(-1).numpy())

    def backward_jacobian(self, u):
        """Return the Jacobian of ``(lambda, mu)' = -(J_u^T lambda, J_theta^T lambda)``."""
        state = torch.from_numpy(u)
        by_state = _jacobian(lambda x: self.rhs(x, self.theta), state)
        by_theta = _jacobian(lambda p: self.rhs(state, p.reshape(self.theta.shape)),
                             self.theta.reshape(-1))
        p = by_theta.shape[1]
        return sp.bmat([[sp.csc_matrix(-by_state.T), None],
                        [sp.csc_matrix(-by_theta.T), sp.csc_matrix((p, p))]],
                       format="csc", dtype=float)


def _zeros_if_none(gradient, like):
    return torch.zeros_like(like) if gradient is None else gradient.detach()


def _jacobian(function, point: torch.Tensor) -> np.ndarray:
    try:
        matrix = torch.autograd.functional.jacobian(function, point, vectorize=True)
    except RuntimeError:
        # Some torch operations have no batching rule; one product per row then.
        matrix = torch.autograd.functional.jacobian(function, point)
    return matrix.detach().numpy()


def adjoint_gradient(rhs: Callable, initial, parameters, times, loss: Callable, *,
                     method: str = "LSODA", rtol: float = 1e-10,
                     atol: float | None = None) -> AdjointResult:
    """Return J and dJ/dtheta of ``du/dt = rhs(u, theta)`` by the continuous adjoint.

    Args:
        rhs: torch function ``(u of shape (n,), theta of shape (p,)) -> du/dt (n,)``.
        initial: u0, shape ``(n,)``.
        parameters: theta, shape ``(p,)``.
        times: observation times, increasing, the first one 0 or later.
        loss: torch function of the observed states (shape ``(m, n)``) returning a
            scalar.
        method: a ``solve_ivp`` method; implicit ones (``Radau``, ``BDF``, ``LSODA``)
            receive the Jacobians. LSODA was the fastest on RC grids on a 2-core
            machine: the 16 x 16 grid of ``designs/inverse_diffusion.toml`` took
            0.4 s against 1.5 s with BDF, and a 32-node line 0.3 s against 2.5 s
            with Radau, at rtol 1e-10.
        rtol: relative tolerance of both passes.
        atol: absolute tolerance of the forward pass; default ``rtol`` times the
            largest ``|u0|`` (or times 1 for a zero start). The backward pass scales
            its own from the loss's jumps.

    Torch runs on one thread inside, because each product works on vectors of a
    few hundred entries.
    """
    with single_thread():
        return _adjoint_gradient(rhs, initial, parameters, times, loss, method, rtol, atol)


def _adjoint_gradient(rhs, initial, parameters, times, loss, method, rtol, atol):
    problem = _Problem(rhs, parameters)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or len(times) == 0 or np.any(np.diff(times) <= 0) or times[0] < 0:
        raise ValueError("times must be a non-empty, strictly increasing sequence from 0 on")
    initial = np.asarray(initial, dtype=float)
    if atol is None:
        atol = rtol * (float(np.max(np.abs(initial))) or 1.0)
    states, segments, forward_count = _forward(problem, initial, times, method, rtol, atol)
    observed = torch.from_numpy(states).requires_grad_(True)
    with torch.enable_grad():
        value = loss(observed)
        jumps, = torch.autograd.grad(value, observed)
    initial_gradient, gradient, backward_count = _backward(problem, states, jumps.numpy(),
                                                           times, segments, method, rtol)
    return AdjointResult(float(value.detach()), gradient, initial_gradient, states,
                         forward_count, backward_count)


def _solve(function, span, start, method, rtol, atol, jacobian=None):
    options = {}
    if method in IMPLICIT and jacobian is not None:
        # LSODA takes dense Jacobians only.
        options["jac"] = jacobian if method != "LSODA" else (
            lambda t, y: jacobian(t, y).toarray())
    solution = solve_ivp(function, span, start, method=method, rtol=rtol, atol=atol,
                         dense_output=True, **options)
    if not solution.success:
        raise RuntimeError(f"solve_ivp ({method}) failed on [{span[0]:.6g}, {span[1]:.6g}]: "
                           f"{solution.message}")
    return solution


def _forward(problem, initial, times, method, rtol, atol):
    """Return the states at ``times``, each interval's dense output, and the evaluations."""
    state, previous = initial, 0.0
    states, segments, count = [], [], 0
    for time in times:
        if time > previous:
            solution = _solve(problem.forward, (previous, time), state, method, rtol, atol,
                              problem.state_jacobian)
            state = solution.y[:, -1]
            segments.append(solution.sol)
            count += solution.nfev
        else:
            segments.append(None)
        states.append(state)
        previous = time
    return np.array(states), segments, count


def _backward(problem, states, jumps, times, segments, method, rtol):
    """Return ``(lambda(0), mu(0), evaluations)`` from the jumps ``dJ/du(t_k)``."""
    n, p = len(jumps[0]), problem.n_parameters
    adjoint = np.zeros(n + p)
    scale = float(np.max(np.abs(jumps))) or 1.0
    quadrature_scale = _quadrature_scale(problem, states, jumps, times)
    atol = rtol * np.concatenate([np.full(n, scale), np.full(p, quadrature_scale)])
    count = 0
    for k in range(len(times) - 1, -1, -1):
        adjoint[:n] += jumps[k]
        dense = segments[k]
        if dense is None:
            continue
        start = times[k - 1] if k > 0 else 0.0

        def derivative(t, y, dense=dense):
            by_state, by_theta = problem.products(dense(t), y[:n])
            return -np.concatenate([by_state, by_theta])

        def jacobian(t, _y, dense=dense):
            return problem.backward_jacobian(dense(t))

        solution = _solve(derivative, (times[k], start), adjoint, method, rtol, atol, jacobian)
        adjoint = solution.y[:, -1]
        count += solution.nfev
    return adjoint[:n], adjoint[n:], count


def _quadrature_scale(problem, states, jumps, times) -> float:
    """Return an estimate of |dJ/dtheta| for the absolute tolerance of the quadrature.

    It is the largest ``|lambda^T df/dtheta|`` at the observation with the largest
    jump, times the length of the run.
    """
    k = int(np.argmax(np.max(np.abs(jumps), axis=1)))
    _, by_theta = problem.products(states[k], jumps[k])
    return float(np.max(np.abs(by_theta)) * times[-1]) or 1.0
