"""Bill of materials: components grouped by kind and value, with designators and counts."""

from __future__ import annotations

import csv
import io
import re

import networkx as nx

__all__ = ["BOM_COLUMNS", "bill_of_materials", "bom_csv"]

BOM_COLUMNS = ("designators", "kind", "value", "unit", "series", "tolerance", "quantity")
_UNITS = {"resistor": "ohm", "capacitor": "F", "vsource": "V", "isource": "A", "vccs": "S",
          "bsource": "A", "bvsource": "V", "opamp": "V/V"}


def _designator_order(designator: str):
    letters, digits = re.match(r"([a-z_]+)(\d*)", designator).groups()
    return letters, int(digits or 0)


def _group_order(item):
    (kind, value, _, _), _ = item
    return kind, float("inf") if value != value else value


def bill_of_materials(graph: nx.MultiGraph) -> list[dict]:
    """Return one row per distinct (kind, value, series), sorted by kind then value.

    Values are in SI units (``unit`` names them); ``tolerance`` is a fraction and is
    empty for components that are not bought from a series.
    """
    groups: dict[tuple, list[str]] = {}
    for _, _, key, data in graph.edges(keys=True, data=True):
        kind, value = data["kind"], data["value"]
        if "cell" in data:
            continue
        if kind in ("bsource", "bvsource"):
            # A behavioural source is one analog function block per node. Its output is an
            # expression, not a value, so the row groups the blocks by PDE term.
            kind, value = f"bsource ({data['term']})", float("nan")
        if kind == "vcvs":
            # A VCVS is the macro model of an op-amp, and its value is the open-loop gain.
            kind = "opamp"
        group = (kind, value, data.get("series", ""), data.get("tolerance", ""))
        groups.setdefault(group, []).append(key)
    rows = _cell_rows(graph)
    for (kind, value, series, tolerance), keys in sorted(groups.items(),
                                                         key=_group_order):
        rows.append({
            "designators": " ".join(sorted(keys, key=_designator_order)),
            "kind": kind,
            "value": "" if value != value else f"{value:.6g}",
            "unit": _UNITS[kind.split()[0]],
            "series": series,
            "tolerance": tolerance,
            "quantity": len(keys),
        })
    return rows


def _cell_rows(graph: nx.MultiGraph) -> list[dict]:
    """Return the parts of transistor-level cells: two NPN transistors and a tail source each."""
    cells = sorted(key for _, _, key, data in graph.edges(keys=True, data=True) if "cell" in data)
    if not cells:
        return []
    cell = next(data["cell"] for _, _, data in graph.edges(data=True) if "cell" in data)
    designators = " ".join(f"x{key}" for key in sorted(cells, key=_designator_order))
    return [
        {"designators": designators, "kind": "npn_transistor", "value": "",
         "unit": "", "series": "2N3904", "tolerance": "", "quantity": 2 * len(cells)},
        {"designators": designators, "kind": "tail_current_source",
         "value": f"{cell.i_tail_a:.6g}", "unit": "A", "series": "", "tolerance": "",
         "quantity": len(cells)},
        {"designators": "v_cell_vcc", "kind": "supply", "value": "5", "unit": "V",
         "series": "", "tolerance": "", "quantity": 1},
    ]


def bom_csv(graph: nx.MultiGraph) -> str:
    """Return the bill of materials as CSV text with the header ``BOM_COLUMNS``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=BOM_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(bill_of_materials(graph))
    return buffer.getvalue()
