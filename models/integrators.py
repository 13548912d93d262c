"""Implicit integrators for ``C dV/dt = -G V + b`` in torch, with the matrix factored once.

``C`` is a positive diagonal of shape ``(n,)`` and ``G`` a sparse matrix of shape
``(n, n)``; ``b`` is constant in time. The theta scheme solves
``(C/dt + theta G) V[k+1] = (C/dt - (1 - theta) G) V[k] + b`` with theta = 1/2
(trapezoidal rule, which is Crank-Nicolson for diffusion) or theta = 1 (backward
Euler). Two back ends do the solve:

- ``dense``: ``torch.linalg.lu_factor``; gradients reach every input.
- ``sparse``: SciPy's SuperLU factor wrapped in an autograd function whose
  backward pass solves with the transposed factor; gradients reach ``V0`` and ``b``.

Trajectories have shape ``(n_saved, n)`` in float64.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

__all__ = ["METHODS", "LinearStepper"]

logger = logging.getLogger(__name__)

METHODS = {"trapezoidal": 0.5, "crank_nicolson": 0.5, "backward_euler": 1.0}
# Sparse solves measured faster than dense ones from 256 nodes up (bench/bench_spice_twin.py).
DENSE_LIMIT = 64
MAX_ITERATIONS = 50
ITERATION_TOLERANCE = 1e-11


class _FactorSolve(torch.autograd.Function):
    """``x = M^-1 r`` with a SuperLU factor of ``M``; the backward pass solves with ``M^T``."""

    @staticmethod
    def forward(ctx, rhs, factor):
        ctx.factor = factor
        solution = factor.solve(rhs.detach().cpu().numpy())
        return torch.from_numpy(solution).to(rhs)

    @staticmethod
    def backward(ctx, grad):
        adjoint = ctx.factor.solve(grad.detach().cpu().numpy(), trans="T")
        return torch.from_numpy(adjoint).to(grad), None


class _MatVec(torch.autograd.Function):
    """``y = M x`` with a SciPy CSR matrix; the backward pass multiplies by ``M^T``."""

    @staticmethod
    def forward(ctx, vector, matrix):
        ctx.matrix = matrix
        return torch.from_numpy(matrix @ vector.detach().cpu().numpy()).to(vector)

    @staticmethod
    def backward(ctx, grad):
        return torch.from_numpy(ctx.matrix.T @ grad.detach().cpu().numpy()).to(grad), None


class LinearStepper:
    """One theta-scheme step of ``C dV/dt = -G V + b`` with a fixed step ``dt`` (seconds)."""

    def __init__(self, capacitance, conductance, dt: float, method: str = "trapezoidal",
                 backend: str = "auto"):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {sorted(METHODS)}")
        if not dt > 0:
            raise ValueError(f"time step must be positive, got {dt!r}")
        theta = METHODS[method]
        n = len(capacitance)
        if backend == "auto":
            backend = "dense" if n <= DENSE_LIMIT else "sparse"
        if backend not in ("dense", "sparse"):
            raise ValueError(f"unknown backend {backend!r}; use 'auto', 'dense' or 'sparse'")
        self.backend = backend
        self.method = method
        self.theta = theta
        self.dt = dt
        mass = sp.diags(np.asarray(capacitance, dtype=float) / dt)
        conductance = sp.csr_matrix(conductance, dtype=float)
        left = (mass + theta * conductance).tocsc()
        right = (mass - (1 - theta) * conductance).tocsr()
        if backend == "dense":
            self._right = torch.from_numpy(right.toarray())
            self._lu = torch.linalg.lu_factor(torch.from_numpy(left.toarray()))
        else:
            self._right = right
            # A symmetric-structure ordering suits RC grids, whose matrices are symmetric.
            self._factor = spla.splu(left, permc_spec="MMD_AT_PLUS_A")
        logger.debug("factored %s step matrix of size %d (%s)", method, n, backend)

    def _apply_right(self, state: torch.Tensor) -> torch.Tensor:
        if self.backend == "dense":
            return torch.mv(self._right, state)
        # SciPy's CSR product: torch's sparse products measured 2.5 to 4.5 ms a call on a
        # 2-core machine with two intra-op threads, against about 11 us here.
        return _MatVec.apply(state, self._right)

    def step(self, state: torch.Tensor, constant: torch.Tensor) -> torch.Tensor:
        """Return V[k+1] from V[k] = ``state`` (shape ``(n,)``) and ``b`` = ``constant``."""
        return self.solve(self._apply_right(state) + constant)

    def solve(self, rhs: torch.Tensor) -> torch.Tensor:
        """Return ``(C/dt + theta G)^-1 rhs``."""
        if self.backend == "dense":
            return torch.linalg.lu_solve(*self._lu, rhs[:, None])[:, 0]
        return _FactorSolve.apply(rhs, self._factor)

    def step_nonlinear(self, state, constant, nonlinear, k=0):
        """Return V[k+1] for ``C dV/dt = -G V + b + F(V)`` by fixed-point iteration.

        The theta scheme treats F like the linear part:
        ``(C/dt + theta G) V1 = (C/dt - (1 - theta) G) V0 + b + (1 - theta) F(V0) + theta F(V1)``.
        """
        base = self._apply_right(state) + constant + (1 - self.theta) * nonlinear(state)
        guess = self.solve(base + self.theta * nonlinear(state))
        for _ in range(MAX_ITERATIONS):
            update = self.solve(base + self.theta * nonlinear(guess))
            change = float(torch.max(torch.abs(update - guess)))
            guess = update
            if change <= ITERATION_TOLERANCE * (1.0 + float(torch.max(torch.abs(update)))):
                return guess
        raise RuntimeError(f"the twin's fixed-point iteration did not converge at step {k} "
                           f"(last change {change:.3e}); use more twin steps")

    def integrate(self, initial: torch.Tensor, constant: torch.Tensor, n_steps: int,
                  save_every: int = 1, nonlinear=None) -> torch.Tensor:
        """Return the states at steps 0, save_every, 2 save_every, ..., n_steps.

        ``nonlinear``, when given, maps a state to extra currents F(V) of shape ``(n,)``.
        """
        if n_steps % save_every:
            raise ValueError(f"n_steps={n_steps} is not a multiple of save_every={save_every}")
        state = initial
        saved = [state]
        with single_thread():
            for k in range(1, n_steps + 1):
                if nonlinear is None:
                    state = self.step(state, constant)
                else:
                    state = self.step_nonlinear(state, constant, nonlinear, k)
                if k % save_every == 0:
                    saved.append(state)
        return torch.stack(saved)


@contextlib.contextmanager
def single_thread():
    """Run torch on one intra-op thread inside the block, then restore the setting.

    Each step works on vectors of a few thousand entries, where thread start-up costs
    more than it saves: the 50 x 50 twin ran 1.5 times faster on one thread in
    bench/bench_spice_twin.py on a 2-core machine. The setting is process-wide.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
