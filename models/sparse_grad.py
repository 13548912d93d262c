"""Sparse theta-scheme steps of an RC network, differentiable in every resistor's conductance.

The network has ``n`` state nodes, each with a capacitance ``C`` to ground, ``f``
fixed nets (ground and voltage-source nets) at voltages ``u``, and ``m`` resistors
with conductances ``g`` (siemens). Resistor ``k`` joins two terminals; a terminal
below ``n`` is a state node and terminal ``n + p`` is fixed net ``p``. With the
signed incidence matrix ``A = [A_s A_f]`` of shape ``(m, n + f)`` (+1 at the first
terminal, -1 at the second), the node equations ``C dx/dt = -G x + b`` have

    G(g) = A_s^T diag(g) A_s + G_static,    b(g, u) = -A_s^T diag(g) A_f u + s,

where ``G_static`` contains conductances that do not train (transconductances)
and ``s`` the source currents. One theta step solves ``M x1 = R x0 + b`` with
``M = C/dt + theta G`` and ``R = C/dt - (1 - theta) G``; ``M`` is factored once
with SciPy's SuperLU and the factor serves every step and every backward pass.

The backward pass of a step is the discrete adjoint. With ``lam = M^-T dL/dx1``
and ``d_k`` the terminal difference over resistor k (a fixed net contributes its
voltage),

    dL/dx0  = R^T lam
    dL/dg_k = -(A_s lam)_k (theta d_k(x1) + (1 - theta) d_k(x0))
    dL/du   = -A_f^T diag(g) A_s lam
    dL/ds   = lam
    dL/dC_i = lam_i (x0_i - x1_i) / dt

States have shape ``(n,)`` or ``(batch, n)``, float64; parameter gradients are
summed over the batch.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from npdehw.models.integrators import single_thread

__all__ = ["ImplicitStep", "RCNetwork", "SparseThetaStepper"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class RCNetwork:
    """Resistor topology of an RC network, with the conductances that do not train.

    Attributes:
        terminals: integer array of shape ``(m, 2)``. An entry below ``n_nodes`` is
            a state node, and ``n_nodes + p`` is fixed net ``p``.
        n_nodes: number of state nodes ``n``.
        n_fixed: number of fixed nets ``f`` (ground counts as one when a resistor
            reaches it).
        static_conductance_s: sparse ``(n, n)`` matrix added to ``G``, for example
            the transconductances of a circuit, or None.
    """

    terminals: np.ndarray
    n_nodes: int
    n_fixed: int
    static_conductance_s: sp.spmatrix | None = None

    def __post_init__(self):
        terminals = np.asarray(self.terminals, dtype=np.int64).reshape(-1, 2)
        object.__setattr__(self, "terminals", terminals)
        if self.n_nodes < 1 or self.n_fixed < 0:
            raise ValueError(f"an RC network needs n_nodes >= 1 and n_fixed >= 0, got "
                             f"{self.n_nodes} and {self.n_fixed}")
        size = self.n_nodes + self.n_fixed
        if len(terminals) and (terminals.min() < 0 or terminals.max() >= size):
            raise ValueError(f"resistor terminals must lie in [0, {size}), got "
                             f"{terminals.min()} to {terminals.max()}")
        loops = np.flatnonzero(terminals[:, 0] == terminals[:, 1])
        if len(loops):
            raise ValueError(f"resistor {loops[0]} joins terminal {terminals[loops[0], 0]} to "
                             "itself")
        static = self.static_conductance_s
        if static is not None and static.shape != (self.n_nodes, self.n_nodes):
            raise ValueError(f"static_conductance_s has shape {static.shape}, expected "
                             f"{(self.n_nodes, self.n_nodes)}")

    @property
    def n_resistors(self) -> int:
        return len(self.terminals)

    @functools.cached_property
    def incidence(self) -> sp.csr_matrix:
        """``A`` of shape ``(m, n + f)``: +1 at the first terminal, -1 at the second."""
        m = self.n_resistors
        rows = np.repeat(np.arange(m), 2)
        values = np.tile([1.0, -1.0], m)
        shape = (m, self.n_nodes + self.n_fixed)
        return sp.csr_matrix((values, (rows, self.terminals.ravel())), shape=shape)

    @functools.cached_property
    def state_incidence(self) -> sp.csr_matrix:
        """``A_s``, the state-node columns of ``incidence``."""
        return self.incidence[:, :self.n_nodes].tocsr()

    @functools.cached_property
    def fixed_incidence(self) -> sp.csr_matrix:
        """``A_f``, the fixed-net columns of ``incidence``."""
        return self.incidence[:, self.n_nodes:].tocsr()

    def conductance_matrix(self, conductance_s: np.ndarray) -> sp.csr_matrix:
        """Return ``G(g)``, shape ``(n, n)``, siemens."""
        a_s = self.state_incidence
        matrix = (a_s.T @ sp.diags(conductance_s) @ a_s).tocsr()
        if self.static_conductance_s is not None:
            matrix = (matrix + self.static_conductance_s).tocsr()
        return matrix

    def fixed_currents(self, conductance_s: np.ndarray, fixed_v: np.ndarray) -> np.ndarray:
        """Return ``-A_s^T diag(g) A_f u``, the currents from the fixed nets, amperes."""
        return -(self.state_incidence.T @ (conductance_s * (self.fixed_incidence @ fixed_v)))


def _float64(value, length: int, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(value, dtype=torch.float64)
    if tensor.shape != (length,):
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected ({length},)")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} has a non-finite entry")
    return tensor


class SparseThetaStepper:
    """Theta-scheme steps of an ``RCNetwork`` with one SuperLU factor of ``M``.

    The tensors given here are the parameters that the steps differentiate
    against. The factor is built from their values at construction, so build a
    new stepper after changing them (an optimizer step, for example).

    Args:
        network: the resistor topology.
        conductance_s: ``g``, shape ``(m,)``, siemens, all positive.
        capacitance_f: ``C``, shape ``(n,)``, farads, all positive.
        dt_s: step in seconds.
        theta: 1/2 is the trapezoidal rule, 1 backward Euler.
        fixed_v: ``u``, shape ``(f,)``, volts; default zeros.
        source_a: ``s``, shape ``(n,)``, amperes into each node; default zeros.
    """

    def __init__(self, network: RCNetwork, *, conductance_s, capacitance_f, dt_s: float,
                 theta: float = 0.5, fixed_v=None, source_a=None):
        if not (math.isfinite(dt_s) and dt_s > 0):
            raise ValueError(f"time step must be positive, got {dt_s!r}")
        if not 0.0 <= theta <= 1.0:
            raise ValueError(f"theta must lie in [0, 1], got {theta!r}")
        n, f = network.n_nodes, network.n_fixed
        self.network, self.dt_s, self.theta = network, float(dt_s), float(theta)
        self.conductance = _float64(conductance_s, network.n_resistors, "conductance_s")
        self.capacitance = _float64(capacitance_f, n, "capacitance_f")
        self.fixed_v = _float64(np.zeros(f) if fixed_v is None else fixed_v, f, "fixed_v")
        self.source = _float64(np.zeros(n) if source_a is None else source_a, n, "source_a")
        g = self.conductance.detach().numpy()
        capacitance = self.capacitance.detach().numpy()
        if not (g > 0).all() or not (capacitance > 0).all():
            raise ValueError("every conductance and capacitance must be positive")
        self.fixed_values = self.fixed_v.detach().numpy()
        self._factorize(g, capacitance)

    def _factorize(self, g, capacitance):
        matrix = self.network.conductance_matrix(g)
        mass = sp.diags(capacitance / self.dt_s)
        left = (mass + self.theta * matrix).tocsc()
        self.right = (mass - (1 - self.theta) * matrix).tocsr()
        self.right_transposed = self.right.T.tocsr()
        # A symmetric-structure ordering suits RC grids, whose matrices are symmetric.
        self.factor = spla.splu(left, permc_spec="MMD_AT_PLUS_A")
        self.constant = (self.network.fixed_currents(g, self.fixed_values)
                         + self.source.detach().numpy())
        logger.debug("factored theta=%g step matrix of size %d", self.theta, len(capacitance))

    def step(self, state: torch.Tensor) -> torch.Tensor:
        """Return the state one step after ``state`` (shape ``(n,)`` or ``(batch, n)``)."""
        return ImplicitStep.apply(state, self.conductance, self.capacitance, self.fixed_v,
                                  self.source, self)

    def integrate(self, initial: torch.Tensor, n_steps: int, save_every: int = 1) -> torch.Tensor:
        """Return the states at steps 0, save_every, ..., n_steps, shape ``(n_saved, ...)``."""
        if n_steps < 0 or save_every < 1 or n_steps % save_every:
            raise ValueError(f"n_steps={n_steps} must be a non-negative multiple of "
                             f"save_every={save_every}")
        state = initial
        saved = [state]
        with single_thread():
            for k in range(1, n_steps + 1):
                state = self.step(state)
                if k % save_every == 0:
                    saved.append(state)
        return torch.stack(saved)

    def apply_right(self, columns: np.ndarray) -> np.ndarray:
        """Return ``R x`` for states stored as columns, shape ``(n, batch)``."""
        return self.right @ columns

    def terminal_differences(self, columns: np.ndarray) -> np.ndarray:
        """Return ``A x~`` (fixed nets at ``u``) for state columns: shape ``(m, batch)``."""
        network = self.network
        fixed = network.fixed_incidence @ self.fixed_values
        return network.state_incidence @ columns + fixed[:, None]


def _columns(state: torch.Tensor, n: int) -> np.ndarray:
    """Return a ``(n,)`` or ``(batch, n)`` tensor as a ``(n, batch)`` array."""
    if state.dtype != torch.float64:
        raise TypeError(f"the sparse twin works in float64, got a {state.dtype} state")
    if state.shape[-1] != n or state.ndim not in (1, 2):
        raise ValueError(f"state has shape {tuple(state.shape)}, expected ({n},) or "
                         f"(batch, {n})")
    array = state.detach().cpu().numpy()
    return array[:, None] if array.ndim == 1 else array.T


def _like(columns: np.ndarray, state: torch.Tensor) -> torch.Tensor:
    """Return ``(n, batch)`` columns shaped like ``state``."""
    array = columns[:, 0] if state.ndim == 1 else columns.T
    return torch.from_numpy(np.ascontiguousarray(array))


class ImplicitStep(torch.autograd.Function):
    """One theta step ``x1 = M^-1 (R x0 + b)``, whose backward pass is the discrete adjoint.

    Call it as ``ImplicitStep.apply(state, conductance, capacitance, fixed_v, source,
    stepper)`` with the stepper's own parameter tensors, as
    ``SparseThetaStepper.step`` does.
    """

    @staticmethod
    def forward(ctx, state, conductance, capacitance, fixed_v, source, stepper):
        before = _columns(state, stepper.network.n_nodes)
        rhs = stepper.apply_right(before) + stepper.constant[:, None]
        after = stepper.factor.solve(rhs)
        output = _like(after, state)
        ctx.stepper = stepper
        ctx.save_for_backward(state, output)
        return output

    @staticmethod
    def backward(ctx, grad):
        stepper = ctx.stepper
        state, output = ctx.saved_tensors
        n = stepper.network.n_nodes
        adjoint = stepper.factor.solve(_columns(grad, n), trans="T")
        wants = ctx.needs_input_grad
        grad_state = _like(stepper.right_transposed @ adjoint, state) if wants[0] else None
        grads = _parameter_gradients(stepper, adjoint, _columns(state, n),
                                     _columns(output, n), wants[1:5])
        return (grad_state, *grads, None)


def _parameter_gradients(stepper, adjoint, before, after, wants):
    """Return dL/dg, dL/dC, dL/du and dL/ds, each summed over the batch (None if not needed)."""
    network, theta = stepper.network, stepper.theta
    grad_g = grad_c = grad_u = grad_s = None
    across = network.state_incidence @ adjoint
    if wants[0]:
        drop = (theta * stepper.terminal_differences(after)
                + (1 - theta) * stepper.terminal_differences(before))
        grad_g = torch.from_numpy(-np.sum(across * drop, axis=1))
    if wants[1]:
        grad_c = torch.from_numpy(np.sum(adjoint * (before - after), axis=1) / stepper.dt_s)
    if wants[2]:
        g = stepper.conductance.detach().numpy()
        grad_u = torch.from_numpy(-(network.fixed_incidence.T @ (g[:, None] * across))
                                  .sum(axis=1))
    if wants[3]:
        grad_s = torch.from_numpy(adjoint.sum(axis=1))
    return grad_g, grad_c, grad_u, grad_s
