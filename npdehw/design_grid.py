"""Design-file readers for the grid, its boundary and the spatial profiles."""

from __future__ import annotations

import math

from npdehw.errors import SpecError
from npdehw.models import fields, profiles
from npdehw.models.grid import Boundary, Grid, side_names
from npdehw.tomlkeys import Table

__all__ = ["PROFILE_KINDS", "parse_grid", "parse_profile"]

MAX_GRID_NODES = 250_000
PROFILE_KINDS = ("sine_modes", "cosine_modes", "gaussian", "constant", "step", "noise",
                 "values", "digit")


def parse_grid(table: Table) -> Grid:
    """Read ``shape``, ``spacing`` or ``length``, ``boundary`` and ``obstacles``."""
    shape = table.int_list("shape")
    ndim = len(shape)
    if ndim not in (1, 2):
        raise SpecError(table.key("shape"), f"needs 1 or 2 entries (nodes per axis), got {shape}")
    if math.prod(shape) > MAX_GRID_NODES:
        raise SpecError(table.key("shape"), f"{shape} has {math.prod(shape)} nodes, more than "
                        f"the {MAX_GRID_NODES} npdehw supports; use a coarser grid")
    boundaries = _parse_boundaries(table.table("boundary"), ndim)
    spacing = _parse_spacing(table, shape, boundaries)
    obstacles = frozenset(tuple(i) for i in table.list_of_int_lists("obstacles", default=[]))
    return table.build(Grid, shape=tuple(shape), spacing=spacing, boundaries=boundaries,
                       obstacles=obstacles)


def _parse_spacing(table: Table, shape, boundaries) -> tuple[float, ...]:
    if table.has("spacing") == table.has("length"):
        raise SpecError(table.key("spacing"), "give exactly one of 'spacing' (node spacing) "
                        "or 'length' (domain length) per axis")
    if table.has("spacing"):
        return tuple(table.number_list("spacing", length=len(shape)))
    lengths = table.number_list("length", length=len(shape))
    result = []
    for axis, (n, length) in enumerate(zip(shape, lengths)):
        if not length > 0:
            raise SpecError(table.key("length"), f"must be positive, got {length!r}")
        name = "xy"[axis]
        walls = sum(1.0 if boundaries[f"{name}_{end}"].is_dirichlet else 0.5
                    for end in ("low", "high"))
        result.append(length / (n - 1 + walls))
    return tuple(result)


def _parse_boundaries(table: Table, ndim: int) -> dict[str, Boundary]:
    sides = side_names(ndim)
    default = _parse_boundary(table.table("default")) if table.has("default") else None
    result = {}
    for side in sides:
        if table.has(side):
            result[side] = _parse_boundary(table.table(side))
        elif default is not None:
            result[side] = default
        else:
            raise SpecError(table.key(side), "missing; give each side or a 'default' "
                            "such as { kind = \"dirichlet\", value = 0.0 }")
    table.finish()
    return result


def _parse_boundary(table: Table) -> Boundary:
    kind = table.choice("kind", Boundary.KINDS)
    value = table.number("value") if kind == "dirichlet" else table.number("value", default=0.0)
    boundary = table.build(Boundary, kind=kind, value=value)
    table.finish()
    return boundary


def parse_profile(table: Table, grid: Grid):
    """Read one profile table (``kind`` and its keys) and check it on ``grid``."""
    kind = table.choice("kind", PROFILE_KINDS)
    profile = _PROFILE_READERS[kind](table, grid)
    table.finish()
    try:
        profile.evaluate(grid)
    except SpecError as err:
        raise SpecError(table.key(err.key), err.message) from err
    return profile


def _modes(table: Table, grid: Grid):
    modes = tuple(_parse_mode(item, grid) for item in table.tables("modes"))
    cls = fields.SineModes if table.string("kind") == "sine_modes" else fields.CosineModes
    return table.build(cls, modes=modes)


def _parse_mode(table: Table, grid: Grid) -> fields.Mode:
    mode = table.build(fields.Mode, wavenumber=tuple(table.int_list("wavenumber",
                                                                          length=grid.ndim)),
                       amplitude=table.number("amplitude"))
    table.finish()
    return mode


def _gaussian(table: Table, grid: Grid):
    return table.build(fields.Gaussian, center=tuple(table.number_list("center",
                                                                       length=grid.ndim)),
                       width=table.number("width"),
                       amplitude=table.number("amplitude", default=1.0),
                       offset=table.number("offset", default=0.0))


def _step(table: Table, grid: Grid):
    return table.build(profiles.Step, low=tuple(table.number_list("low", length=grid.ndim)),
                       high=tuple(table.number_list("high", length=grid.ndim)),
                       value=table.number("value", default=1.0),
                       outside=table.number("outside", default=0.0))


def _noise(table: Table, grid: Grid):
    return table.build(profiles.Noise, low=table.number("low"), high=table.number("high"),
                       seed=table.integer("seed", default=0))


def _values(table: Table, grid: Grid):
    return table.build(profiles.Values, values=tuple(table.number_list("values")))


def _digit(table: Table, grid: Grid):
    return table.build(profiles.Digit, index=table.integer("index"),
                       threshold=table.number("threshold", default=8.0),
                       black=table.number("black", default=1.0),
                       white=table.number("white", default=-1.0),
                       upscale=table.integer("upscale", default=1))


_PROFILE_READERS = {
    "sine_modes": _modes,
    "cosine_modes": _modes,
    "gaussian": _gaussian,
    "constant": lambda table, grid: table.build(fields.Constant, value=table.number("value")),
    "step": _step,
    "noise": _noise,
    "values": _values,
    "digit": _digit,
}
