"""A reaction coefficient trains through the expression evaluator's torch function.

The data come from SciPy's solve_ivp on the semi-discrete Fisher-KPP equation, an
independent computation. The twin integrates the same equation in torch and passes
the coefficient ``r`` to the expression as a trainable input.
"""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from npdehw.models.expressions import parse
from npdehw.models.parametrize import BoundedPositive
from npdehw.models.training import TrainSpec, fit

N, SPACING, DIFFUSION, R_TRUE = 30, 0.5, 1.0, 1.3
TIMES = np.linspace(0.0, 4.0, 9)
STEPS_PER_INTERVAL = 25


def _laplacian() -> np.ndarray:
    """Zero-flux second difference over ``N`` nodes, divided by the spacing squared."""
    matrix = np.diag(-2.0 * np.ones(N))
    matrix += np.diag(np.ones(N - 1), 1) + np.diag(np.ones(N - 1), -1)
    matrix[0, 0] = matrix[-1, -1] = -1.0
    return DIFFUSION * matrix / SPACING**2


def _initial() -> np.ndarray:
    return np.where(np.arange(N) < 5, 1.0, 0.0)


def _reference() -> np.ndarray:
    laplacian = _laplacian()
    rhs = lambda t, u: laplacian @ u + R_TRUE * u * (1 - u)  # noqa: E731
    solution = solve_ivp(rhs, (0, TIMES[-1]), _initial(), t_eval=TIMES, rtol=1e-10,
                         atol=1e-12, method="DOP853")
    return solution.y.T


def _twin(rate: torch.Tensor) -> torch.Tensor:
    """Classical Runge-Kutta steps of the same equation; returns the states at ``TIMES``."""
    reaction = parse("r*u*(1 - u)", fields=("u", "r")).to_torch()
    laplacian = torch.from_numpy(_laplacian())

    def rhs(u):
        return laplacian @ u + reaction(u=u, r=rate)

    dt = (TIMES[1] - TIMES[0]) / STEPS_PER_INTERVAL
    state = torch.from_numpy(_initial())
    saved = [state]
    for _ in range(len(TIMES) - 1):
        for _ in range(STEPS_PER_INTERVAL):
            k1 = rhs(state)
            k2 = rhs(state + dt / 2 * k1)
            k3 = rhs(state + dt / 2 * k2)
            k4 = rhs(state + dt * k3)
            state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        saved.append(state)
    return torch.stack(saved)


def test_reaction_rate_recovered_from_trajectories():
    data = torch.from_numpy(_reference())
    rate = BoundedPositive([0.5], 0.01, 10.0)
    spec = TrainSpec(optimizer="lbfgs", learning_rate=1.0, epochs=6)
    history = fit(rate, lambda e: [lambda: torch.mean((_twin(rate()) - data) ** 2)], spec,
                  progress=False)
    assert history.loss[-1] < 1e-6 * history.loss[0]
    assert float(rate().detach()) == pytest.approx(R_TRUE, rel=1e-3)
