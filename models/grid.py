"""Regular 1-D and 2-D grids with a boundary condition on each side.

Nodes sit at ``x_i = offset + i * h`` along each axis. A side with a Dirichlet
condition puts its boundary value one spacing beyond the last node, so
``offset = h``; a zero-flux side puts the wall half a spacing beyond it, so
``offset = h / 2``. The domain length per axis is therefore ``(n + 1) h`` between
two Dirichlet sides, ``n h`` between two zero-flux sides and ``(n + 1/2) h``
otherwise. Shapes are ``(n_x,)`` or ``(n_x, n_y)``; states are flattened in C
order to ``(n_nodes,)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator

import numpy as np

from npdehw.errors import SpecError

__all__ = ["AXES", "Boundary", "Grid", "side_names"]

AXES = ("x", "y")


def side_names(ndim: int) -> tuple[str, ...]:
    """Return the side names of a grid with ``ndim`` axes: ``x_low``, ``x_high``, ..."""
    return tuple(f"{axis}_{end}" for axis in AXES[:ndim] for end in ("low", "high"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Boundary:
    """Boundary condition of one side: a Dirichlet value (model units) or zero flux."""

    kind: str
    value: float = 0.0

    KINDS = ("dirichlet", "zero_flux", "periodic")

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise SpecError("kind", f"unknown boundary kind {self.kind!r}; use one of {self.KINDS}")
        if not math.isfinite(self.value):
            raise SpecError("value", f"boundary value must be finite, got {self.value!r}")
        if self.kind != "dirichlet" and self.value != 0.0:
            raise SpecError("value", f"a {self.kind} side takes no value; remove the key")

    @property
    def is_dirichlet(self) -> bool:
        return self.kind == "dirichlet"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """A regular grid of ``shape`` nodes with spacing ``spacing`` (model length units).

    Attributes:
        shape: nodes per axis, one or two entries.
        spacing: node spacing per axis.
        boundaries: side name (``x_low``, ``x_high``, ``y_low``, ``y_high``) to condition.
        obstacles: grid indices removed from the domain; the faces they share with
            neighbouring nodes are zero-flux walls.
    """

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    boundaries: dict[str, Boundary]
    obstacles: frozenset[tuple[int, ...]] = frozenset()

    def __post_init__(self):
        self._check_shape()
        self._check_boundaries()
        self._check_obstacles()

    def _check_shape(self):
        if len(self.shape) not in (1, 2):
            raise SpecError("shape", f"a grid has 1 or 2 axes, got shape {list(self.shape)}")
        if any(n < 1 for n in self.shape):
            raise SpecError("shape", f"every axis needs at least one node, got {list(self.shape)}")
        if len(self.spacing) != len(self.shape):
            raise SpecError("spacing", f"needs {len(self.shape)} entries, got {list(self.spacing)}")
        for h in self.spacing:
            if not (math.isfinite(h) and h > 0):
                raise SpecError("spacing", f"must be positive and finite, got {h!r}")

    def _check_boundaries(self):
        expected = set(side_names(self.ndim))
        missing = expected - set(self.boundaries)
        extra = set(self.boundaries) - expected
        if missing:
            raise SpecError("boundary", f"missing sides {sorted(missing)}; add them or a 'default'")
        if extra:
            raise SpecError("boundary", f"unknown sides {sorted(extra)} for a {self.ndim}-D grid")
        for axis in AXES[: self.ndim]:
            kinds = {self.boundaries[f"{axis}_{end}"].kind for end in ("low", "high")}
            if "periodic" in kinds and kinds != {"periodic"}:
                raise SpecError("boundary", f"periodic must be set on both {axis}_low and "
                                f"{axis}_high")

    def _check_obstacles(self):
        for index in self.obstacles:
            if len(index) != self.ndim or not all(0 <= i < n for i, n in zip(index, self.shape)):
                raise SpecError("obstacles", f"index {list(index)} is outside the grid {list(self.shape)}")
        if len(self.obstacles) >= self.n_cells:
            raise SpecError("obstacles", "the obstacles cover the whole grid")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape)

    def offsets(self) -> tuple[float, ...]:
        """Return the position of node 0 along each axis, from the lower side's condition."""
        return tuple(
            h if self.boundaries[f"{axis}_low"].is_dirichlet else h / 2
            for axis, h in zip(AXES, self.spacing)
        )

    def lengths(self) -> tuple[float, ...]:
        """Return the domain length along each axis (model length units)."""
        result = []
        for axis, n, h in zip(AXES, self.shape, self.spacing):
            ends = (self.boundaries[f"{axis}_{end}"] for end in ("low", "high"))
            result.append(n * h + sum(h if b.is_dirichlet else h / 2 for b in ends) - h)
        return tuple(result)

    def coordinates(self) -> list[np.ndarray]:
        """Return the node positions along each axis."""
        return [off + h * np.arange(n) for off, h, n in zip(self.offsets(), self.spacing, self.shape)]

    def mesh(self) -> list[np.ndarray]:
        """Return position arrays of shape ``self.shape``, one per axis (``ij`` indexing)."""
        return list(np.meshgrid(*self.coordinates(), indexing="ij"))

    def active(self) -> np.ndarray:
        """Return a boolean mask of shape ``self.shape``, False on obstacles."""
        mask = np.ones(self.shape, dtype=bool)
        for index in self.obstacles:
            mask[index] = False
        return mask

    def indices(self) -> Iterator[tuple[int, ...]]:
        """Yield the indices of all nodes that are not obstacles, in C order."""
        for index in itertools.product(*(range(n) for n in self.shape)):
            if index not in self.obstacles:
                yield index

    def neighbour_pairs(self) -> Iterator[tuple[tuple[int, ...], tuple[int, ...], int]]:
        """Yield ``(index, neighbour, axis)`` once for every pair of adjacent active nodes.

        Periodic axes of three or more nodes add the pair that wraps around.
        """
        for index in self.indices():
            for axis in range(self.ndim):
                other = list(index)
                other[axis] += 1
                if other[axis] == self.shape[axis]:
                    if not self._wraps(axis):
                        continue
                    other[axis] = 0
                other = tuple(other)
                if other not in self.obstacles:
                    yield index, other, axis

    def _wraps(self, axis: int) -> bool:
        periodic = self.boundaries[f"{AXES[axis]}_low"].kind == "periodic"
        return periodic and self.shape[axis] >= 3

    def boundary_links(self) -> Iterator[tuple[tuple[int, ...], str]]:
        """Yield ``(index, side)`` for every active node next to a Dirichlet side."""
        for index in self.indices():
            for axis, name in enumerate(AXES[: self.ndim]):
                for end, edge in (("low", 0), ("high", self.shape[axis] - 1)):
                    side = f"{name}_{end}"
                    if index[axis] == edge and self.boundaries[side].is_dirichlet:
                        yield index, side
