"""Design-file reader for the ``[npde]`` table.

Three forms are accepted:

- plain diffusion (``diffusion``, ``decay``, ``initial``, ``source``): the heat
  equation, with closed-form references where they exist;
- the general family (``fields``, per-field ``diffusion``, ``decay``, ``initial``,
  ``source`` and ``reaction``, ``parameters`` for the expressions, ``couplings``);
- a generated model under ``[npde.model]`` (see ``npdehw.design_models``).
"""

from __future__ import annotations

import numpy as np

from npdehw.design_grid import parse_grid, parse_profile
from npdehw.errors import SpecError
from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.expressions import ExpressionError, parse, reaction
from npdehw.models.grid import Grid
from npdehw.models.npde import NPDE, LinearTerm, ReactionTerm
from npdehw.models.stencils import laplacian_kernel
from npdehw.tomlkeys import Table

__all__ = ["parse_npde"]

_FAMILY_KEYS = ("fields", "reaction", "couplings", "parameters")


def parse_npde(table: Table) -> tuple[NPDE, DiffusionNPDE | None, dict | None]:
    """Return the NPDE of a design, its DiffusionNPDE for plain diffusion, and model info.

    Model info is a dict for generated models that carry expected results (the
    ``torch_mlp`` model's network output), else None.
    """
    end_time = table.number("end_time")
    if table.has("model"):
        return _parse_model(table, end_time)
    grid = parse_grid(table)
    if not any(table.has(key) for key in _FAMILY_KEYS):
        diffusion = _parse_diffusion(table, grid, end_time)
        table.finish()
        return diffusion.to_npde(), diffusion, None
    npde = _parse_family(table, grid, end_time)
    table.finish()
    return npde, None, None


def _parse_model(table: Table, end_time: float):
    from npdehw.design_models import GRID_FREE_MODELS, parse_model

    model = table.table("model")
    grid_free = model.raw("kind", None) in GRID_FREE_MODELS
    if grid_free:
        for key in ("shape", "spacing", "length", "boundary", "obstacles"):
            if table.has(key):
                raise SpecError(table.key(key), "this model makes its own grid; remove the key")
    grid = None if grid_free else parse_grid(table)
    npde, info = parse_model(model, grid, end_time)
    table.finish()
    return npde, None, info


def _parse_diffusion(table: Table, grid: Grid, end_time: float) -> DiffusionNPDE:
    return table.build(
        DiffusionNPDE,
        grid=grid,
        diffusion=table.number("diffusion"),
        decay=table.number("decay", default=0.0),
        end_time=end_time,
        initial=parse_profile(table.table("initial"), grid),
        source=parse_profile(table.table("source"), grid) if table.has("source") else None,
    )


def _field_names(table: Table) -> tuple[str, ...]:
    value = table.raw("fields", ["u"])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(table.key("fields"), f"must be an array of names, got {value!r}")
    return tuple(value)


def _per_field(table: Table, key: str, fields, reader):
    """Read ``key`` as one value for every field or as a table keyed by field name."""
    if not table.has(key):
        return {}
    raw = table.raw(key, None)
    if isinstance(raw, dict) and set(raw) <= set(fields) and raw and "kind" not in raw:
        sub = table.table(key)
        result = {name: reader(sub, name) for name in fields if sub.has(name)}
        sub.finish()
        return result
    if len(fields) > 1:
        raise SpecError(table.key(key), f"give one entry per field, e.g. {key}.{fields[0]} = ...")
    return {fields[0]: reader(table, key)}


def _parse_family(table: Table, grid: Grid, end_time: float) -> NPDE:
    names = _field_names(table)
    parameters = _parse_parameters(table)
    terms = []
    for name, d in _per_field(table, "diffusion", names, _diffusion_reader).items():
        if np.any(np.asarray(d) != 0):
            terms.append(LinearTerm(target=name, source=name, kernel=laplacian_kernel(grid, d),
                                    label="diffusion"))
    for name, gamma in _per_field(table, "decay", names, _number_reader).items():
        if gamma != 0:
            terms.append(LinearTerm(target=name, source=name,
                                    kernel=np.full((1,) * grid.ndim, -gamma), label="decay"))
    if table.has("couplings"):
        terms += [_parse_coupling(item, grid, names) for item in table.tables("couplings")]

    def profile(sub, name):
        return parse_profile(sub.table(name), grid)

    reactions = [ReactionTerm(target=name, expression=expression)
                 for name, expression in _per_field(
                     table, "reaction", names,
                     lambda sub, name: _parse_reaction(sub, name, names, parameters)).items()]
    return table.build(NPDE, grid=grid, fields=names, end_time=end_time, linear=tuple(terms),
                       reactions=tuple(reactions),
                       initial=_per_field(table, "initial", names, profile),
                       sources=_per_field(table, "source", names, profile))


def _diffusion_reader(table: Table, key: str):
    raw = table.raw(key, None)
    if isinstance(raw, list):
        values = table.number_list(key)
    else:
        values = [table.number(key)]
    if any(v < 0 for v in values):
        raise SpecError(table.key(key), f"must be zero or positive, got {raw!r}")
    return values if len(values) > 1 else values[0]


def _number_reader(table: Table, key: str) -> float:
    return table.number(key)


def _parse_parameters(table: Table) -> dict[str, float]:
    if not table.has("parameters"):
        return {}
    sub = table.table("parameters")
    values = {name: sub.number(name) for name in list(sub.keys())}
    sub.finish()
    return values


def _parse_reaction(table: Table, key: str, names, parameters):
    raw = table.raw(key, None)
    if isinstance(raw, str):
        try:
            return parse(raw, fields=names, params=parameters)
        except ExpressionError as err:
            raise SpecError(table.key(key), str(err)) from err
        except ValueError as err:
            raise SpecError(table.key(key), str(err)) from err
    sub = table.table(key)
    name = sub.string("name")
    values = {k: sub.number(k) for k in sub.keys() if k != "name"}
    sub.finish()
    try:
        result = reaction(name, **values)
    except ValueError as err:
        raise SpecError(sub.key("name"), str(err)) from err
    if isinstance(result, tuple):
        raise SpecError(sub.key("name"), f"{name!r} defines several fields; write each "
                        "field's reaction as an expression instead")
    if set(result.fields) - set(names):
        raise SpecError(sub.key("name"), f"{name!r} reads fields {list(result.fields)}, "
                        f"but the design's fields are {list(names)}")
    return result


def _parse_coupling(table: Table, grid: Grid, names) -> LinearTerm:
    target = table.choice("target", names)
    source = table.choice("source", names)
    if table.has("laplacian") == table.has("kernel"):
        raise SpecError(table.key("kernel"), "give exactly one of 'kernel' (stencil weights, "
                        "1 / model time) or 'laplacian' (a diffusion coefficient)")
    if table.has("laplacian"):
        kernel = laplacian_kernel(grid, table.number("laplacian"))
    else:
        kernel = _parse_kernel(table, grid)
    kernel = kernel * table.number("scale", default=1.0)
    label = table.string("label", default="coupling")
    term = table.build(LinearTerm, target=target, source=source, kernel=kernel, label=label)
    table.finish()
    return term


def _parse_kernel(table: Table, grid: Grid) -> np.ndarray:
    raw = table.raw("kernel", None)
    try:
        kernel = np.array(raw, dtype=float)
    except (TypeError, ValueError) as err:
        raise SpecError(table.key("kernel"), f"must be a rectangular array of numbers, got "
                        f"{raw!r}") from err
    if kernel.ndim != grid.ndim or any(size % 2 == 0 for size in kernel.shape):
        raise SpecError(table.key("kernel"), f"needs {grid.ndim} axes of odd length (centre = "
                        f"the node itself), got shape {list(kernel.shape)}")
    if not np.all(np.isfinite(kernel)):
        raise SpecError(table.key("kernel"), "every weight must be finite")
    return kernel
