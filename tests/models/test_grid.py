"""Grid geometry: node positions, domain lengths and neighbour lists."""

import pytest

from npdehw.errors import SpecError
from npdehw.models.grid import Boundary, Grid

DIRICHLET = Boundary(kind="dirichlet")
ZERO_FLUX = Boundary(kind="zero_flux")


def grid_1d(low, high, n=4, h=0.25):
    return Grid(shape=(n,), spacing=(h,), boundaries={"x_low": low, "x_high": high})


def test_dirichlet_nodes_start_one_spacing_in():
    """Between Dirichlet sides the nodes sit at h, 2h, ... and the length is (n + 1) h."""
    grid = grid_1d(DIRICHLET, DIRICHLET)
    assert grid.coordinates()[0].tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert grid.lengths() == pytest.approx((1.25,))


def test_zero_flux_nodes_are_cell_centred():
    """Between zero-flux walls the nodes sit at cell centres and the length is n h."""
    grid = grid_1d(ZERO_FLUX, ZERO_FLUX)
    assert grid.coordinates()[0].tolist() == pytest.approx([0.125, 0.375, 0.625, 0.875])
    assert grid.lengths() == pytest.approx((1.0,))


def test_mixed_sides_length():
    """A Dirichlet side and a zero-flux side give a length of (n + 1/2) h."""
    assert grid_1d(DIRICHLET, ZERO_FLUX).lengths() == pytest.approx((1.125,))


def test_neighbour_pairs_2d():
    """A 5 x 3 grid has 4*3 + 5*2 neighbour pairs."""
    grid = Grid(shape=(5, 3), spacing=(1.0, 1.0),
                boundaries={s: DIRICHLET for s in ("x_low", "x_high", "y_low", "y_high")})
    assert len(list(grid.neighbour_pairs())) == 22


def test_boundary_links_count_corners_twice():
    """Each node on a Dirichlet side links to it; corner nodes link to two sides."""
    grid = Grid(shape=(5, 3), spacing=(1.0, 1.0),
                boundaries={s: DIRICHLET for s in ("x_low", "x_high", "y_low", "y_high")})
    assert len(list(grid.boundary_links())) == 2 * 3 + 2 * 5


def test_obstacle_removes_pairs():
    """An obstacle in the middle of a 3 x 3 grid removes its four neighbour pairs."""
    grid = Grid(shape=(3, 3), spacing=(1.0, 1.0), obstacles=frozenset({(1, 1)}),
                boundaries={s: ZERO_FLUX for s in ("x_low", "x_high", "y_low", "y_high")})
    assert len(list(grid.neighbour_pairs())) == 12 - 4
    assert len(list(grid.indices())) == 8


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (1, 2, 3)])
def test_invalid_shape_rejected(shape):
    """Empty axes and more than two axes are rejected."""
    with pytest.raises(SpecError):
        Grid(shape=shape, spacing=(1.0,) * len(shape), boundaries={})


def test_missing_side_rejected():
    """Every side needs a condition."""
    with pytest.raises(SpecError, match="x_high"):
        Grid(shape=(3,), spacing=(1.0,), boundaries={"x_low": DIRICHLET})
