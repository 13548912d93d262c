"""Design files: TOML read with tomllib and validated into immutable specifications.

A design has four parts: ``name`` and ``description`` at the top, ``[npde]`` (grid,
coefficients, boundary, initial condition, source, end time, in model units),
``[circuit]`` (scales and component catalogue, SI units) and ``[simulation]``.
Every error raised here is a DesignError whose message names the file, the
dotted key, the value and the fix.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from npdehw.errors import DesignError, SpecError
from npdehw.hw.mapping import CircuitMapping
from npdehw.models import fields
from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.grid import Boundary, Grid, side_names
from npdehw.sim.settings import Probe, SimulationSettings, SpiceOptions
from npdehw.tomlkeys import Table

__all__ = ["BUNDLED", "Design", "bundled_designs", "load_design", "resolve_design"]

BUNDLED = Path(__file__).resolve().parent.parent / "designs"
DEFAULT_DESIGN = "heat2d"
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Design:
    """A validated design: the NPDE, its circuit mapping and the simulation settings."""

    name: str
    description: str
    source: Path
    npde: DiffusionNPDE
    mapping: CircuitMapping
    simulation: SimulationSettings


def bundled_designs() -> dict[str, Path]:
    """Return the bundled designs by name."""
    return {path.stem: path for path in sorted(BUNDLED.glob("*.toml"))}


def resolve_design(name_or_path: str | None) -> Path:
    """Return the path of a design given as a file path or a bundled design's name."""
    if name_or_path is None:
        name_or_path = DEFAULT_DESIGN
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise DesignError(f"{path}: design file not found; give a path to a .toml file or "
                              f"one of the bundled designs {sorted(bundled_designs())}")
        return path
    bundled = bundled_designs()
    if name_or_path not in bundled:
        raise DesignError(f"{name_or_path}: no such design file or bundled design; bundled "
                          f"designs are {sorted(bundled)}")
    return bundled[name_or_path]


def load_design(name_or_path: str | Path | None = None) -> Design:
    """Read, parse and validate a design; raise DesignError naming the file on any fault."""
    path = resolve_design(None if name_or_path is None else str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DesignError(f"{path}: cannot read the design file: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DesignError(f"{path}: invalid TOML: {err}; fix the syntax at that line") from err
    try:
        return _parse(Table(data, ""), path)
    except SpecError as err:
        raise DesignError(f"{path}: {err}") from err


def _parse(root: Table, path: Path) -> Design:
    name = root.string("name", default=path.stem)
    if not SAFE_NAME.match(name):
        raise SpecError("name", f"{name!r} may use only lower-case letters, digits and '_', "
                        "starting with a letter, because it becomes part of the netlist")
    description = root.string("description", default="")
    if any(ch in description for ch in "\r\n"):
        raise SpecError("description", "must be one line; remove the line breaks")
    npde = _parse_npde(root.table("npde"))
    mapping = _parse_mapping(root.table("circuit"))
    simulation = _parse_simulation(root.table("simulation", optional=True), npde.grid)
    root.finish()
    return Design(name=name, description=description, source=path, npde=npde, mapping=mapping,
                  simulation=simulation)


def _parse_npde(table: Table) -> DiffusionNPDE:
    shape = table.int_list("shape")
    ndim = len(shape)
    if ndim not in (1, 2):
        raise SpecError(table.key("shape"), f"needs 1 or 2 entries (nodes per axis), got {shape}")
    boundaries = _parse_boundaries(table.table("boundary"), ndim)
    spacing = _parse_spacing(table, shape, boundaries)
    obstacles = frozenset(tuple(i) for i in table.list_of_int_lists("obstacles", default=[]))
    grid = table.build(Grid, shape=tuple(shape), spacing=spacing, boundaries=boundaries,
                       obstacles=obstacles)
    npde = table.build(
        DiffusionNPDE,
        grid=grid,
        diffusion=table.number("diffusion"),
        decay=table.number("decay", default=0.0),
        end_time=table.number("end_time"),
        initial=_parse_profile(table.table("initial"), grid),
        source=(_parse_profile(table.table("source"), grid)
                if table.has("source") else None),
    )
    table.finish()
    return npde


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
    value = table.number("value", default=0.0)
    boundary = table.build(Boundary, kind=kind, value=value)
    table.finish()
    return boundary


PROFILE_KINDS = ("sine_modes", "cosine_modes", "gaussian", "constant")


def _parse_profile(table: Table, grid: Grid):
    kind = table.choice("kind", PROFILE_KINDS)
    if kind in ("sine_modes", "cosine_modes"):
        modes = tuple(_parse_mode(item, grid) for item in table.tables("modes"))
        cls = fields.SineModes if kind == "sine_modes" else fields.CosineModes
        profile = table.build(cls, modes=modes)
    elif kind == "gaussian":
        center = tuple(table.number_list("center", length=grid.ndim))
        profile = table.build(fields.Gaussian, center=center, width=table.number("width"),
                              amplitude=table.number("amplitude", default=1.0),
                              offset=table.number("offset", default=0.0))
    else:
        profile = table.build(fields.Constant, value=table.number("value"))
    table.finish()
    return profile


def _parse_mode(table: Table, grid: Grid) -> fields.Mode:
    mode = table.build(fields.Mode, wavenumber=tuple(table.int_list("wavenumber",
                                                                          length=grid.ndim)),
                       amplitude=table.number("amplitude"))
    table.finish()
    return mode


def _parse_mapping(table: Table) -> CircuitMapping:
    kwargs = {}
    for key in ("time_scale_s", "voltage_scale_v", "capacitance_f"):
        if table.has(key) or key == "time_scale_s":
            kwargs[key] = table.number(key)
    for key in ("resistor_series", "capacitor_series"):
        if table.has(key):
            kwargs[key] = table.string(key)
    for key in ("resistance_range_ohm", "capacitance_range_f"):
        if table.has(key):
            kwargs[key] = tuple(table.number_list(key, length=2))
    mapping = table.build(CircuitMapping, **kwargs)
    table.finish()
    return mapping


def _parse_simulation(table: Table, grid: Grid) -> SimulationSettings:
    kwargs = {}
    for key in ("output_times", "twin_steps"):
        if table.has(key):
            kwargs[key] = table.integer(key)
    if table.has("twin_method"):
        kwargs["twin_method"] = table.string("twin_method")
    if table.has("probes"):
        kwargs["probes"] = tuple(_parse_probe(item, grid) for item in table.tables("probes"))
    if table.has("spice"):
        kwargs["spice"] = _parse_spice(table.table("spice"))
    settings = table.build(SimulationSettings, **kwargs)
    table.finish()
    return settings


def _parse_probe(table: Table, grid: Grid) -> Probe:
    name = table.string("name")
    if not SAFE_NAME.match(name):
        raise SpecError(table.key("name"), f"{name!r} may use only lower-case letters, digits "
                        "and '_', starting with a letter")
    index = tuple(table.int_list("index", length=grid.ndim))
    if not all(0 <= i < n for i, n in zip(index, grid.shape)):
        raise SpecError(table.key("index"), f"{list(index)} is outside the grid "
                        f"{list(grid.shape)}; indices start at 0")
    if index in grid.obstacles:
        raise SpecError(table.key("index"), f"{list(index)} is an obstacle, not a node")
    table.finish()
    return Probe(name=name, index=index)


def _parse_spice(table: Table) -> SpiceOptions:
    kwargs = {}
    if table.has("method"):
        kwargs["method"] = table.string("method")
    for key in ("reltol", "abstol_a", "vntol_v", "max_step"):
        if table.has(key):
            kwargs[key] = table.number(key)
    options = table.build(SpiceOptions, **kwargs)
    table.finish()
    return options
