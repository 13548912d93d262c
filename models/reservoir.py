"""A reaction-diffusion grid used as a reservoir: the NPDE and how the input drives it.

One field ``u`` on a 1-D or 2-D grid with node spacing 1 obeys

    du/dt = D lap(u) + c (u[i-1] - u[i]) - gamma u + f(u) + w_i (d(t) - u_i),

with diffusion ``D``, decay ``gamma`` and a reaction expression ``f``. The one-way
coupling ``c`` along the first axis, towards higher indices, is upwind advection: it
carries the input history along the grid. Each input node ``i`` couples with rate
``w_i`` to the drive ``d(t) = input_offset + input_gain * input(t)``, and a negative
``w_i`` couples it to ``-d(t)`` with rate ``|w_i|``. Rates are in 1 / model time.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from npdehw.errors import SpecError
from npdehw.models.grid import Boundary, Grid, side_names
from npdehw.models.npde import NPDE, LinearTerm, ReactionTerm
from npdehw.models.stencils import laplacian_kernel

__all__ = ["BOUNDARIES", "MAX_NODES", "ReservoirSpec"]

BOUNDARIES = ("zero_flux", "periodic")
MAX_NODES = 400
"""Largest reservoir. A 20 x 20 grid with a reaction took about 4 s in ngspice and 2.4 s
in the twin per 1000 steps on a loaded 2-core machine, so a run stays within minutes."""


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ReservoirSpec:
    """The reservoir's grid, dynamics and input coupling, in model units.

    Attributes:
        shape: nodes per axis, one or two entries.
        boundary: ``zero_flux`` or ``periodic``, on every side.
        diffusion: D, zero or positive.
        advection: c, the one-way coupling rate along the first axis, zero or positive.
        decay: gamma, zero or positive.
        reaction: an ``Expression`` in ``u``, or None.
        input_nodes: grid indices the drive reaches, one tuple each.
        input_weights: coupling rate of each input node, non-zero; negative values
            couple to the inverted drive.
        input_offset, input_gain: the drive is ``input_offset + input_gain * input``.
    """

    shape: tuple[int, ...]
    boundary: str = "zero_flux"
    diffusion: float = 0.0
    advection: float = 0.0
    decay: float = 0.0
    reaction: object = None
    input_nodes: tuple[tuple[int, ...], ...]
    input_weights: tuple[float, ...]
    input_offset: float = 0.0
    input_gain: float = 1.0

    def __post_init__(self):
        self._check_grid()
        self._check_rates()
        self._check_inputs()

    def _check_grid(self):
        if len(self.shape) not in (1, 2) or any(n < 1 for n in self.shape):
            raise SpecError("shape", f"needs 1 or 2 positive entries (nodes per axis), got "
                            f"{list(self.shape)}")
        if math.prod(self.shape) > MAX_NODES:
            raise SpecError("shape", f"{list(self.shape)} has {math.prod(self.shape)} nodes, "
                            f"more than the {MAX_NODES} a reservoir run supports; use a "
                            "smaller grid")
        if self.boundary not in BOUNDARIES:
            raise SpecError("boundary", f"unknown boundary {self.boundary!r}; use one of "
                            f"{list(BOUNDARIES)}")

    def _check_rates(self):
        for key in ("diffusion", "advection", "decay", "input_offset", "input_gain"):
            if not math.isfinite(getattr(self, key)):
                raise SpecError(key, f"must be finite, got {getattr(self, key)!r}")
        for key in ("diffusion", "advection", "decay"):
            if getattr(self, key) < 0:
                raise SpecError(key, f"must be zero or positive, got {getattr(self, key)!r}")
        if math.prod(self.shape) > 1 and self.diffusion == 0 and self.advection == 0:
            raise SpecError("diffusion", "the nodes are not coupled; set diffusion or "
                            "advection above zero")
        if self.input_gain == 0:
            raise SpecError("input_gain", "must be non-zero, or the input never reaches "
                            "the reservoir")
        if self.reaction is not None and set(self.reaction.fields) - {"u"}:
            raise SpecError("reaction", f"may read only the field 'u', got "
                            f"{list(self.reaction.fields)}")

    def _check_inputs(self):
        if not self.input_nodes:
            raise SpecError("input_nodes", "needs at least one grid index")
        if len(self.input_weights) != len(self.input_nodes):
            raise SpecError("input_weights", f"needs one weight per input node "
                            f"({len(self.input_nodes)}), got {len(self.input_weights)}")
        for k, index in enumerate(self.input_nodes):
            if len(index) != len(self.shape) or not all(
                    0 <= i < n for i, n in zip(index, self.shape)):
                raise SpecError(f"input_nodes[{k}]", f"{list(index)} is not a node of the "
                                f"grid {list(self.shape)}")
        if len(set(self.input_nodes)) != len(self.input_nodes):
            raise SpecError("input_nodes", "lists a node twice; give each node once")
        for k, weight in enumerate(self.input_weights):
            if not (math.isfinite(weight) and weight != 0):
                raise SpecError(f"input_weights[{k}]", f"must be finite and non-zero, got "
                                f"{weight!r}")

    @property
    def n_nodes(self) -> int:
        return math.prod(self.shape)

    def grid(self) -> Grid:
        """Return the grid: spacing 1 and the same boundary on every side."""
        sides = {side: Boundary(kind=self.boundary) for side in side_names(len(self.shape))}
        return Grid(shape=tuple(self.shape), spacing=(1.0,) * len(self.shape),
                    boundaries=sides)

    def npde(self, end_time: float) -> NPDE:
        """Return the reservoir's NPDE without its input, from rest (u = 0)."""
        grid = self.grid()
        terms = []
        if self.diffusion > 0:
            terms.append(LinearTerm(target="u", source="u",
                                    kernel=laplacian_kernel(grid, self.diffusion),
                                    label="diffusion"))
        if self.advection > 0:
            terms.append(LinearTerm(target="u", source="u", kernel=self._advection_kernel(),
                                    label="advection"))
        if self.decay > 0:
            terms.append(LinearTerm(target="u", source="u",
                                    kernel=np.full((1,) * grid.ndim, -self.decay),
                                    label="decay"))
        reactions = () if self.reaction is None else (
            ReactionTerm(target="u", expression=self.reaction),)
        return NPDE(grid=grid, fields=("u",), initial={}, end_time=end_time,
                    linear=tuple(terms), reactions=reactions)

    def _advection_kernel(self) -> np.ndarray:
        """Return ``c (u[i-1] - u[i])`` along the first axis as a stencil."""
        kernel = np.zeros((3,) + (1,) * (len(self.shape) - 1))
        kernel[0] = self.advection
        kernel[1] = -self.advection
        return kernel

    def drive(self, inputs) -> np.ndarray:
        """Return the drive ``d = input_offset + input_gain * inputs`` in model units."""
        return self.input_offset + self.input_gain * np.asarray(inputs, dtype=float)
