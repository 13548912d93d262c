"""The general NPDE on a grid, one or more fields:

    du_f/dt = sum_terms K_t * u_s  +  r_f(u)  +  act(W u + b)_f  +  s_f(x)

- linear terms: a stencil ``K_t`` from field ``s`` into field ``f`` (diffusion,
  anisotropic diffusion, a learned or user kernel, decay as a 1-point kernel,
  cross-field couplings);
- reactions: an expression in the field values at the same node;
- non-local terms: each a dense ``W`` over the whole state with a bias and an
  activation, applied to the rows its mask selects (an MLP uses one per layer);
- a source per field, constant in time.

States are flattened field by field: entry ``f * n_nodes + k`` is field ``f`` at the
``k``-th active node in C order, shape ``(n_fields * n_nodes,)``. All quantities are in
model units.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np
import scipy.sparse as sp
import torch

from npdehw.errors import SpecError
from npdehw.models.grid import Grid
from npdehw.models.stencils import stencil_entries

__all__ = ["ACTIVATIONS", "LinearTerm", "NPDE", "NonlocalTerm", "ReactionTerm"]

FIELD_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")
ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu", "pwl_sat")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class LinearTerm:
    """``du_target/dt += kernel * u_source``; ``label`` names the PDE term it implements."""

    target: str
    source: str
    kernel: np.ndarray
    label: str = "stencil"

    def __post_init__(self):
        kernel = np.asarray(self.kernel, dtype=float)
        if not np.all(np.isfinite(kernel)):
            raise SpecError("kernel", "every stencil weight must be finite")
        object.__setattr__(self, "kernel", kernel)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ReactionTerm:
    """``du_target/dt += expression(fields at the same node)``.

    ``expression`` has ``fields`` (names it reads), ``to_torch()`` returning a function of
    a dict of tensors, and ``to_spice(names, scales, output_scale)`` for the netlist.
    """

    target: str
    expression: object
    label: str = "reaction"


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class NonlocalTerm:
    """``du/dt += act(W u + b)`` on the rows where ``rows`` is True.

    Attributes:
        weight: shape ``(n_state, n_state)``.
        bias: shape ``(n_state,)``.
        activation: one of ``ACTIVATIONS``.
        rows: boolean mask of shape ``(n_state,)``; None selects every row.
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str = "identity"
    rows: np.ndarray | None = None
    label: str = "nonlocal"

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise SpecError("activation", f"unknown activation {self.activation!r}; use one of "
                            f"{ACTIVATIONS}")
        weight = np.asarray(self.weight, dtype=float)
        bias = np.asarray(self.bias, dtype=float)
        if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or bias.shape != weight[0].shape:
            raise SpecError("weight", f"needs a square matrix and a matching bias, got "
                            f"{weight.shape} and {bias.shape}")
        rows = np.ones(len(bias), dtype=bool) if self.rows is None else np.asarray(self.rows, bool)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", bias)
        object.__setattr__(self, "rows", rows)


def activation_torch(name: str):
    """Return the torch function of an activation in ``ACTIVATIONS``."""
    return {
        "identity": lambda x: x,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "pwl_sat": lambda x: 0.5 * (torch.abs(x + 1) - torch.abs(x - 1)),
    }[name]


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class NPDE:
    """A general NPDE; see the module docstring for the equation and the state layout."""

    grid: Grid
    fields: tuple[str, ...]
    initial: dict
    end_time: float
    linear: tuple[LinearTerm, ...] = ()
    reactions: tuple[ReactionTerm, ...] = ()
    nonlocal_terms: tuple[NonlocalTerm, ...] = ()
    sources: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self._check_fields()
        if not (math.isfinite(self.end_time) and self.end_time > 0):
            raise SpecError("end_time", f"must be positive, got {self.end_time!r}")
        for term in self.linear:
            for name in (term.target, term.source):
                self._check_known(name, "linear")
        for term in self.reactions:
            self._check_known(term.target, "reactions")
            for name in term.expression.fields:
                self._check_known(name, "reactions")
        for term in self.nonlocal_terms:
            if len(term.bias) != self.n_state:
                raise SpecError("nonlocal", f"W must be {self.n_state} x {self.n_state} for "
                                f"{len(self.fields)} field(s) on {self.n_nodes} nodes")

    def _check_fields(self):
        if not self.fields or len(set(self.fields)) != len(self.fields):
            raise SpecError("fields", f"needs distinct field names, got {list(self.fields)}")
        for name in self.fields:
            if not FIELD_NAME.match(name):
                raise SpecError("fields", f"field name {name!r} must be a lower-case letter "
                                "followed by up to 7 letters or digits")
        for name in list(self.initial) + list(self.sources):
            self._check_known(name, "initial/source")

    def _check_known(self, name, where):
        if name not in self.fields:
            raise SpecError(where, f"unknown field {name!r}; the fields are {list(self.fields)}")

    @functools.cached_property
    def n_nodes(self) -> int:
        """Number of active grid nodes, counted once because the NPDE and its grid are frozen."""
        return int(self.grid.active().sum())

    @property
    def n_state(self) -> int:
        return len(self.fields) * self.n_nodes

    def field_slice(self, name: str) -> slice:
        f = self.fields.index(name)
        return slice(f * self.n_nodes, (f + 1) * self.n_nodes)

    def _profile(self, profiles: dict, name: str) -> np.ndarray:
        profile = profiles.get(name)
        if profile is None:
            return np.zeros(self.n_nodes)
        if isinstance(profile, np.ndarray):
            return profile.reshape(-1).astype(float)
        return profile.evaluate(self.grid)[self.grid.active()]

    def initial_state(self) -> np.ndarray:
        """Return u(x, 0), shape ``(n_state,)``."""
        return np.concatenate([self._profile(self.initial, f) for f in self.fields])

    def source_state(self) -> np.ndarray:
        """Return s(x), shape ``(n_state,)``."""
        return np.concatenate([self._profile(self.sources, f) for f in self.fields])

    def term_operator(self, term: LinearTerm):
        """Return ``(A, ghosts)`` of one linear term.

        ``A`` is sparse of shape ``(n_state, n_state)``; ``ghosts`` lists
        ``(row, side, weight)`` for stencil entries that reach a Dirichlet ghost node.
        """
        position = {index: k for k, index in enumerate(self.grid.indices())}
        row0 = self.fields.index(term.target) * self.n_nodes
        col0 = self.fields.index(term.source) * self.n_nodes
        rows, cols, vals, ghosts = [], [], [], []
        for index, kind, target, weight in stencil_entries(self.grid, term.kernel):
            row = row0 + position[index]
            if kind == "node":
                rows.append(row)
                cols.append(col0 + position[target])
                vals.append(weight)
            else:
                ghosts.append((row, target, weight))
        matrix = sp.coo_matrix((vals, (rows, cols)), shape=(self.n_state,) * 2).tocsr()
        return matrix, ghosts

    def linear_operator(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Return ``(A, b)`` of the linear part ``A u + b`` (b: Dirichlet ghosts and sources)."""
        total = sp.csr_matrix((self.n_state, self.n_state))
        constant = self.source_state()
        for term in self.linear:
            matrix, ghosts = self.term_operator(term)
            total = total + matrix
            for row, side, weight in ghosts:
                constant[row] += weight * self.grid.boundaries[side].value
        return total.tocsr(), constant

    def nonlinear_rhs(self, state: torch.Tensor) -> torch.Tensor:
        """Return the reaction and non-local part of du/dt; ``state`` is ``(..., n_state)``."""
        parts = []
        for term in self.reactions:
            values = {f: state[..., self.field_slice(f)] for f in term.expression.fields}
            rate = term.expression.to_torch()(values)
            block = self.field_slice(term.target)
            padded = torch.zeros_like(state)
            padded[..., block] = torch.broadcast_to(rate, padded[..., block].shape)
            parts.append(padded)
        for term in self.nonlocal_terms:
            weight = torch.as_tensor(term.weight, dtype=state.dtype)
            bias = torch.as_tensor(term.bias, dtype=state.dtype)
            mask = torch.as_tensor(term.rows)
            activated = activation_torch(term.activation)(state @ weight.T + bias)
            parts.append(torch.where(mask, activated, torch.zeros_like(activated)))
        return sum(parts, torch.zeros_like(state))

    def _cached_linear(self):
        cached = self.__dict__.get("_linear_cache")
        if cached is None:
            cached = self.linear_operator()
            object.__setattr__(self, "_linear_cache", cached)
        return cached

    def rhs(self, state: torch.Tensor) -> torch.Tensor:
        """Return du/dt at ``state`` (shape ``(..., n_state)``) in the state's dtype."""
        matrix, constant = self._cached_linear()
        linear = state @ torch.as_tensor(matrix.toarray(), dtype=state.dtype).T
        return linear + torch.as_tensor(constant, dtype=state.dtype) + self.nonlinear_rhs(state)

    def euler_step(self, state: torch.Tensor, dt: float) -> torch.Tensor:
        """Return one forward Euler step ``u + dt du/dt``."""
        return state + dt * self.rhs(state)
