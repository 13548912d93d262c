"""Stencils on a grid and the boundary rule for the neighbours they reach.

A stencil is a kernel of odd size per axis whose centre is the node itself;
``kernel[c + o]`` weights the neighbour at offset ``o``. Rates are in 1 / model
time. A neighbour outside the grid is resolved by the side it falls past:

- ``periodic``: wraps around to the other end;
- ``zero_flux``: mirrors about the wall half a spacing beyond the last node, so
  offset -1 from node 0 is node 0 and offset -2 is node 1;
- ``dirichlet``: a ghost node held at the side's value.

An obstacle neighbour counts as a zero-flux wall: the weight goes to the node itself.
"""

from __future__ import annotations

import itertools

import numpy as np

from npdehw.models.grid import AXES, Grid

__all__ = ["laplacian_kernel", "resolve_neighbour", "stencil_entries"]


def laplacian_kernel(grid: Grid, diffusion) -> np.ndarray:
    """Return the 3-point (1-D) or 5-point (2-D) Laplacian kernel times D.

    ``diffusion`` is one coefficient or one per axis (anisotropic diffusion).
    """
    coefficients = np.broadcast_to(np.asarray(diffusion, dtype=float), (grid.ndim,))
    kernel = np.zeros((3,) * grid.ndim)
    centre = (1,) * grid.ndim
    for axis, (d, h) in enumerate(zip(coefficients, grid.spacing)):
        for step in (-1, 1):
            index = list(centre)
            index[axis] += step
            kernel[tuple(index)] += d / h**2
        kernel[centre] -= 2 * d / h**2
    return kernel


def resolve_neighbour(grid: Grid, index: tuple[int, ...], offset: tuple[int, ...]):
    """Return ``("node", index)`` or ``("dirichlet", side)`` for ``index + offset``."""
    result = []
    for axis, (i, o, n) in enumerate(zip(index, offset, grid.shape)):
        j = i + o
        if 0 <= j < n:
            result.append(j)
            continue
        side = f"{AXES[axis]}_{'low' if j < 0 else 'high'}"
        boundary = grid.boundaries[side]
        if boundary.kind == "periodic":
            result.append(j % n)
        elif boundary.kind == "zero_flux":
            mirrored = -j - 1 if j < 0 else 2 * n - 1 - j
            result.append(min(max(mirrored, 0), n - 1))
        else:
            return "dirichlet", side
    neighbour = tuple(result)
    if neighbour in grid.obstacles:
        return "node", index
    return "node", neighbour


def stencil_entries(grid: Grid, kernel: np.ndarray):
    """Yield ``(index, kind, target, weight)`` for every node and non-zero kernel entry.

    ``kind`` is ``node`` (``target`` a grid index) or ``dirichlet`` (``target`` a side).
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != grid.ndim or any(size % 2 == 0 for size in kernel.shape):
        raise ValueError(f"a stencil on a {grid.ndim}-D grid needs {grid.ndim} odd sizes, got "
                         f"shape {kernel.shape}")
    centre = tuple(size // 2 for size in kernel.shape)
    offsets = [(tuple(p - c for p, c in zip(position, centre)), kernel[position])
               for position in itertools.product(*(range(s) for s in kernel.shape))
               if kernel[position] != 0.0]
    for index in grid.indices():
        for offset, weight in offsets:
            kind, target = resolve_neighbour(grid, index, offset)
            yield index, kind, target, float(weight)
