"""The diffusion NPDE ``du/dt = D lap(u) - gamma u + s(x)`` on a 1-D or 2-D grid.

The semi-discrete form uses the five-point (three-point in 1-D) Laplacian:
``du/dt = A u + b`` with ``A`` sparse of shape ``(n_nodes, n_nodes)`` over the
active nodes in C order, and ``b`` collecting the Dirichlet values and the source.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

from npdehw.errors import SpecError
from npdehw.models.fields import Profile
from npdehw.models.grid import Grid

__all__ = ["DiffusionNPDE"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiffusionNPDE:
    """Linear diffusion with decay and a time-constant source, all in model units.

    Attributes:
        grid: the spatial grid and its boundary conditions.
        diffusion: diffusion coefficient D (length^2 / time), positive.
        decay: decay rate gamma (1 / time), zero or positive.
        initial: initial condition u(x, 0).
        source: optional source s(x), constant in time (units of u / time).
        end_time: simulated model time, positive.
    """

    grid: Grid
    diffusion: float
    initial: Profile
    end_time: float
    decay: float = 0.0
    source: Profile | None = None

    def __post_init__(self):
        if not (math.isfinite(self.diffusion) and self.diffusion > 0):
            raise SpecError("diffusion", f"must be positive and finite, got {self.diffusion!r}")
        if not (math.isfinite(self.decay) and self.decay >= 0):
            raise SpecError("decay", f"must be zero or positive, got {self.decay!r}")
        if not (math.isfinite(self.end_time) and self.end_time > 0):
            raise SpecError("end_time", f"must be positive, got {self.end_time!r}")

    def to_npde(self):
        """Return the same equation as a general NPDE with the single field ``u``."""
        from npdehw.models.npde import NPDE, LinearTerm
        from npdehw.models.stencils import laplacian_kernel

        terms = [LinearTerm(target="u", source="u", kernel=laplacian_kernel(self.grid,
                                                                            self.diffusion),
                            label="diffusion")]
        if self.decay > 0:
            terms.append(LinearTerm(target="u", source="u",
                                    kernel=np.full((1,) * self.grid.ndim, -self.decay),
                                    label="decay"))
        sources = {} if self.source is None else {"u": self.source}
        return NPDE(grid=self.grid, fields=("u",), initial={"u": self.initial},
                    end_time=self.end_time, linear=tuple(terms), sources=sources)

    def edge_rate(self, axis: int) -> float:
        """Return the coupling rate ``D / h^2`` (1 / time) between neighbours along ``axis``."""
        return self.diffusion / self.grid.spacing[axis] ** 2

    def initial_state(self) -> np.ndarray:
        """Return u(x, 0) at the active nodes, shape ``(n_nodes,)``."""
        return self.initial.evaluate(self.grid)[self.grid.active()]

    def source_state(self) -> np.ndarray:
        """Return s(x) at the active nodes, shape ``(n_nodes,)``; zeros without a source."""
        if self.source is None:
            return np.zeros(int(self.grid.active().sum()))
        return self.source.evaluate(self.grid)[self.grid.active()]

    def operator(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Return ``(A, b)`` of the semi-discrete system ``du/dt = A u + b``."""
        grid = self.grid
        position = {index: k for k, index in enumerate(grid.indices())}
        n = len(position)
        rows, cols, vals = [], [], []
        diagonal = np.full(n, -self.decay)
        for a, b, axis in grid.neighbour_pairs():
            rate = self.edge_rate(axis)
            i, j = position[a], position[b]
            rows += [i, j]
            cols += [j, i]
            vals += [rate, rate]
            diagonal[i] -= rate
            diagonal[j] -= rate
        constant = self.source_state().copy()
        for index, side in grid.boundary_links():
            rate = self.edge_rate(_axis_of(side))
            diagonal[position[index]] -= rate
            constant[position[index]] += rate * grid.boundaries[side].value
        matrix = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
        return (matrix + sp.diags(diagonal)).tocsr(), constant


def _axis_of(side: str) -> int:
    return "xy".index(side[0])
