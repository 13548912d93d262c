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

from npdehw.design_npde import parse_npde
from npdehw.errors import DesignError, SpecError
from npdehw.jobs import JOBS, job_module
from npdehw.hw.mapping import CircuitMapping
from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.npde import NPDE
from npdehw.sim.settings import MAX_STEPS, Probe, SimulationSettings, SpiceOptions
from npdehw.tomlkeys import Table

__all__ = ["BUNDLED", "Design", "bundled_designs", "load_design", "parse_mapping", "parse_spice",
           "resolve_design"]

BUNDLED = Path(__file__).resolve().parent.parent / "designs"
DEFAULT_DESIGN = "heat2d"
SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Design:
    """A validated design: the NPDE, its circuit mapping and the simulation settings.

    ``diffusion`` is set for plain diffusion designs because their closed-form references
    need it. ``analysis`` is the optional ``[analysis]`` table (kind and settings), and
    ``model_info`` is the expected result that a generated model provides.
    """

    name: str
    description: str
    source: Path
    npde: NPDE
    mapping: CircuitMapping
    simulation: SimulationSettings
    diffusion: DiffusionNPDE | None = None
    analysis: dict | None = None
    model_info: dict | None = None


def bundled_designs() -> dict[str, Path]:
    """Return the bundled designs by name."""
    return {path.stem: path for path in sorted(BUNDLED.glob("*.toml"))}


def resolve_design(name_or_path: str | None) -> Path:
    """Return the path of a design given as a file path or a bundled design's name."""
    if name_or_path is None:
        name_or_path = DEFAULT_DESIGN
    path = Path(name_or_path)
    if path.is_dir():
        raise DesignError(f"{path}: is a folder, not a design file; give a path to a .toml "
                          "file")
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


def load_design(name_or_path: str | Path | None = None):
    """Read, parse and validate a design; raise DesignError naming the file on any fault.

    Returns a Design, or a ``NetworkDesign`` for a design with a ``[network]`` table.
    """
    path = resolve_design(None if name_or_path is None else str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DesignError(f"{path}: is not UTF-8 text ({err.reason} at byte {err.start}); a "
                          "design is a TOML text file") from err
    except OSError as err:
        raise DesignError(f"{path}: cannot read the design file: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise DesignError(f"{path}: invalid TOML: {err}; fix the syntax at that line") from err
    try:
        return parse_design(Table(data, ""), path)
    except SpecError as err:
        raise DesignError(f"{path}: {err}") from err


def parse_design(root: Table, path: Path) -> Design:
    name = root.string("name", default=path.stem)
    if not SAFE_NAME.match(name):
        raise SpecError("name", f"{name!r} may use only lower-case letters, digits and '_', "
                        "starting with a letter, because it becomes part of the netlist")
    description = root.string("description", default="")
    if any(ch in description for ch in "\r\n"):
        raise SpecError("description", "must be one line; remove the line breaks")
    job = next((table for table in JOBS if root.has(table)), None)
    if job is not None and not root.has("npde"):
        design = job_module(job).parse(root, name, description, path)
        root.finish()
        return design
    if root.has("hopfield") and not root.has("npde"):
        from npdehw.hopfield_job import parse_hopfield_design

        design = parse_hopfield_design(root, name, description, path)
        root.finish()
        return design
    if root.has("network") and not root.has("npde"):
        from npdehw.network_design import parse_network_design

        design = parse_network_design(root, name, description, path)
        root.finish()
        return design
    npde, diffusion, model_info = parse_npde(root.table("npde"))
    mapping = parse_mapping(root.table("circuit"))
    simulation = _parse_simulation(root.table("simulation", optional=True), npde)
    _check_budget(npde, simulation)
    analysis = _parse_analysis(root.table("analysis")) if root.has("analysis") else None
    root.finish()
    return Design(name=name, description=description, source=path, npde=npde, mapping=mapping,
                  simulation=simulation, diffusion=diffusion, analysis=analysis,
                  model_info=model_info)


MAX_NODES = 250_000


def _check_budget(npde: NPDE, simulation: SimulationSettings) -> None:
    """Reject sizes that would run for hours or exhaust memory, before any work starts."""
    if npde.n_state > MAX_NODES:
        raise SpecError("npde.shape", f"{npde.n_state} circuit nodes is more than the "
                        f"{MAX_NODES} npdehw supports (ngspice alone would need hours); "
                        "use a coarser grid")
    max_step = simulation.spice.max_step
    if max_step is None:
        return
    if max_step > npde.end_time:
        raise SpecError("simulation.spice.max_step", f"{max_step!r} is longer than "
                        f"npde.end_time = {npde.end_time!r}; use at most the end time")
    if npde.end_time / max_step > MAX_STEPS:
        raise SpecError("simulation.spice.max_step", f"{max_step!r} needs more than "
                        f"{MAX_STEPS} ngspice steps over end_time {npde.end_time!r}; use a "
                        "longer step")


def _parse_analysis(table: Table) -> dict:
    from npdehw.analyses import ANALYSES

    kind = table.choice("kind", sorted(ANALYSES))
    settings = {key: table.raw(key) for key in table.keys() if key != "kind"}
    try:
        ANALYSES[kind].check(settings)
    except SpecError as err:
        raise SpecError(table.key(err.key), err.message) from err
    return {"kind": kind, **settings}


def parse_mapping(table: Table) -> CircuitMapping:
    kwargs = {}
    for key in ("time_scale_s", "voltage_scale_v", "capacitance_f"):
        if table.has(key) or key == "time_scale_s":
            kwargs[key] = table.number(key)
    for key in ("resistor_series", "capacitor_series", "tanh_cell"):
        if table.has(key):
            kwargs[key] = table.string(key)
    for key in ("resistance_range_ohm", "capacitance_range_f"):
        if table.has(key):
            kwargs[key] = tuple(table.number_list(key, length=2))
    mapping = table.build(CircuitMapping, **kwargs)
    table.finish()
    return mapping


def _parse_simulation(table: Table, npde: NPDE) -> SimulationSettings:
    kwargs = {}
    for key in ("output_times", "twin_steps"):
        if table.has(key):
            kwargs[key] = table.integer(key)
    if table.has("twin_method"):
        kwargs["twin_method"] = table.string("twin_method")
    if table.has("probes"):
        kwargs["probes"] = tuple(_parse_probe(item, npde) for item in table.tables("probes"))
    if table.has("spice"):
        kwargs["spice"] = parse_spice(table.table("spice"))
    settings = table.build(SimulationSettings, **kwargs)
    table.finish()
    return settings


def _parse_probe(table: Table, npde: NPDE) -> Probe:
    grid = npde.grid
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
    field = table.choice("field", npde.fields) if table.has("field") else npde.fields[0]
    table.finish()
    return Probe(name=name, index=index, field=field)


def parse_spice(table: Table) -> SpiceOptions:
    kwargs = {}
    if table.has("method"):
        kwargs["method"] = table.string("method")
    for key in ("reltol", "abstol_a", "vntol_v", "max_step"):
        if table.has(key):
            kwargs[key] = table.number(key)
    options = table.build(SpiceOptions, **kwargs)
    table.finish()
    return options
