"""Settings of a parameter sweep: the design with each combination of ``--vary`` values.

Every setting is parsed from the design's TOML data with its keys replaced, by the
same validation as ``npdehw run``, so a value the design would reject is rejected
here with the dotted key and the ``--vary`` option that set it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import math
import tomllib
from pathlib import Path

from npdehw.design import resolve_design
from npdehw.errors import DesignError, SpecError
from npdehw.sweep_options import SweepOptionError, Variation, toml_text
from npdehw.tomlkeys import Table

__all__ = ["MAX_SETTINGS", "Setting", "design_digest", "expand_settings"]

MAX_SETTINGS = 10_000


@dataclasses.dataclass(frozen=True)
class Setting:
    """One combination of ``--vary`` values and the design it gives.

    Attributes:
        index: position in the Cartesian product, starting at 0.
        values: dotted key to value, in the order of the ``--vary`` options.
        design: the validated design with those values.
    """

    index: int
    values: dict
    design: object

    @property
    def label(self) -> str:
        if not self.values:
            return "design as written"
        return ", ".join(f"{key}={toml_text(value)}" for key, value in self.values.items())


def design_digest(path: Path) -> str:
    """Return the SHA-256 of a design file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def expand_settings(design_ref: str | None,
                    variations: tuple[Variation, ...]) -> tuple[Path, list[Setting]]:
    """Return the design's path and one Setting per combination of the ``--vary`` values.

    Raises:
        DesignError: when the design, or the design with some setting's values, is
            invalid; the message names the file, the key and the ``--vary`` option.
    """
    from npdehw.design import load_design

    path = resolve_design(design_ref)
    load_design(path)  # reports a fault of the file itself before any --vary value
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    count = math.prod(len(v.values) for v in variations)
    if count > MAX_SETTINGS:
        raise SweepOptionError(f"--vary: {count} settings is more than the {MAX_SETTINGS} "
                               "a sweep supports; list fewer values")
    settings = []
    for index, combination in enumerate(itertools.product(*(v.values for v in variations))):
        values = {v.key: value for v, value in zip(variations, combination)}
        settings.append(Setting(index, values, _design_with(data, path, values)))
    return path, settings


def _design_with(data: dict, path: Path, values: dict):
    from npdehw import design as design_module

    changed = copy.deepcopy(data)
    for key, value in values.items():
        _assign(changed, key, value)
    try:
        # The loader's own parser, given the edited data, because load_design reads files.
        return design_module.parse_design(Table(changed, ""), path)
    except SpecError as err:
        options = " ".join(f"--vary {key}={toml_text(value)}" for key, value in values.items())
        raise DesignError(f"{path} with {options}: {err}") from err


def _assign(data: dict, key: str, value) -> None:
    """Set the dotted ``key`` in nested tables, creating missing tables on the way."""
    table = data
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            prefix = ".".join(parts[:depth + 1])
            raise SweepOptionError(f"--vary {key}: {prefix} is a value, not a table, in the "
                                   "design; vary it directly")
    table[parts[-1]] = value
