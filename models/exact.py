"""Reference solutions of the diffusion NPDE.

- ``semi_discrete_modes``: the closed form for sine modes under zero Dirichlet sides
  and cosine modes under zero-flux sides. Each mode is an eigenvector of the
  discrete Laplacian with rate ``gamma + sum_axis (4 D / h^2) sin^2(k pi h / (2 L))``.
- ``continuum_modes``: the same modes under the continuous Laplacian, with rate
  ``gamma + D sum_axis (k pi / L)^2``.
- ``semi_discrete_expm``: ``exp(t A) u0`` for any linear case, computed with
  ``scipy.sparse.linalg.expm_multiply`` on the model operator; it shares no code
  with the circuit path.

All return arrays of shape ``(n_times, n_nodes)``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import expm_multiply

from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.fields import CosineModes, SineModes

__all__ = ["continuum_modes", "has_mode_solution", "is_linear", "linear_expm",
           "semi_discrete_expm", "semi_discrete_modes"]


def has_mode_solution(npde: DiffusionNPDE) -> bool:
    """Return True when the closed-form mode solution applies to ``npde``."""
    grid = npde.grid
    if npde.source is not None or grid.obstacles:
        return False
    sides = grid.boundaries.values()
    if isinstance(npde.initial, SineModes):
        return all(b.is_dirichlet and b.value == 0.0 for b in sides)
    if isinstance(npde.initial, CosineModes):
        return all(not b.is_dirichlet for b in sides)
    return False


def semi_discrete_modes(npde: DiffusionNPDE, times: np.ndarray) -> np.ndarray:
    """Return the exact solution of the discretized NPDE at ``times`` (model units)."""
    return _mode_solution(npde, times, _discrete_rate)


def continuum_modes(npde: DiffusionNPDE, times: np.ndarray) -> np.ndarray:
    """Return the exact solution of the continuous PDE sampled at the grid nodes."""
    return _mode_solution(npde, times, _continuum_rate)


def _discrete_rate(k: int, h: float, length: float, diffusion: float) -> float:
    return 4 * diffusion / h**2 * math.sin(k * math.pi * h / (2 * length)) ** 2


def _continuum_rate(k: int, h: float, length: float, diffusion: float) -> float:
    return diffusion * (k * math.pi / length) ** 2


def _mode_solution(npde: DiffusionNPDE, times: np.ndarray, rate_of) -> np.ndarray:
    if not has_mode_solution(npde):
        raise ValueError("the mode solution needs sine modes with zero Dirichlet sides "
                         "or cosine modes with zero-flux sides, no source and no obstacles")
    grid = npde.grid
    basis = np.sin if isinstance(npde.initial, SineModes) else np.cos
    mesh = grid.mesh()
    times = np.asarray(times, dtype=float)
    result = np.zeros((times.size, grid.n_cells))
    for mode in npde.initial.modes:
        shape = np.full(grid.shape, mode.amplitude)
        rate = npde.decay
        for k, x, h, length in zip(mode.wavenumber, mesh, grid.spacing, grid.lengths()):
            shape = shape * basis(k * math.pi * x / length)
            rate += rate_of(k, h, length, npde.diffusion)
        result += np.exp(-rate * times)[:, None] * shape.ravel()[None, :]
    return result


def semi_discrete_expm(npde: DiffusionNPDE, times: np.ndarray) -> np.ndarray:
    """Return ``u(t)`` of ``du/dt = A u + b`` by the matrix exponential of the augmented system."""
    matrix, constant = npde.operator()
    return _expm_trajectory(matrix, constant, npde.initial_state(), times)


def is_linear(npde) -> bool:
    """Return True when a general NPDE has no reactions and only identity non-local terms."""
    return not npde.reactions and all(t.activation == "identity" for t in npde.nonlocal_terms)


def linear_expm(npde, times: np.ndarray) -> np.ndarray:
    """Return ``u(t)`` of a linear general NPDE by the matrix exponential."""
    if not is_linear(npde):
        raise ValueError("linear_expm needs an NPDE without reactions or activations")
    matrix, constant = npde.linear_operator()
    for term in npde.nonlocal_terms:
        rows = sp.diags(term.rows.astype(float))
        matrix = matrix + rows @ sp.csr_matrix(term.weight)
        constant = constant + term.rows * term.bias
    return _expm_trajectory(sp.csr_matrix(matrix), constant, npde.initial_state(), times)


def _expm_trajectory(matrix, constant, start, times):
    n = matrix.shape[0]
    augmented = sp.bmat([[matrix, sp.csr_matrix(constant[:, None])],
                         [sp.csr_matrix((1, n)), sp.csr_matrix((1, 1))]]).tocsc()
    start = np.append(start, 1.0)
    times = np.asarray(times, dtype=float)
    if times.size > 1 and np.allclose(np.diff(times), times[1] - times[0]) and times[0] == 0:
        states = expm_multiply(augmented, start, start=0.0, stop=times[-1], num=times.size,
                               endpoint=True)
    else:
        states = np.array([expm_multiply(augmented * t, start) for t in times])
    return states[:, :n]
