"""Trained values written back onto the circuit graph, with where each value came from."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

import networkx as nx

__all__ = ["PROVENANCE_COLUMNS", "provenance_csv", "provenance_rows", "write_back"]

PROVENANCE_COLUMNS = ("designator", "kind", "parameter", "epoch", "initial_value",
                      "trained_value", "built_value", "unit")
_UNITS = {"resistor": "ohm", "capacitor": "F", "vccs": "S"}


def write_back(graph: nx.MultiGraph, values: Mapping[str, float], parameter: str,
               epoch: int) -> nx.MultiGraph:
    """Return a copy of ``graph`` whose components ``values`` names take the trained values.

    Args:
        values: designator to value in the component's SI unit (ohms for a resistor).
        parameter: name of the trained parameter the values came from.
        epoch: 1-based epoch whose parameters were kept.

    Each changed component records ``trained`` = {parameter, epoch, initial_value}.
    """
    trained = graph.copy()
    by_designator = {key: data for _, _, key, data in trained.edges(keys=True, data=True)}
    missing = [name for name in values if name not in by_designator]
    if missing:
        raise KeyError(f"no component {missing[0]!r} in the circuit to write a trained "
                       "value to")
    for name, value in values.items():
        data = by_designator[name]
        if not value > 0 and data["kind"] in ("resistor", "capacitor"):
            raise ValueError(f"trained value {value!r} for {name} is not positive")
        data["trained"] = {"parameter": parameter, "epoch": int(epoch),
                           "initial_value": float(data["value"])}
        data["value"] = float(value)
    return trained


def provenance_rows(graph: nx.MultiGraph) -> list[dict]:
    """Return one row per trained component: its values before, after training and as built.

    ``built_value`` is the value after rounding to a part (the graph's ``value``),
    which equals ``trained_value`` on a graph that was not rounded.
    """
    rows = []
    for _, _, key, data in graph.edges(keys=True, data=True):
        if "trained" not in data:
            continue
        origin = data["trained"]
        rows.append({"designator": key, "kind": data["kind"],
                     "parameter": origin["parameter"], "epoch": origin["epoch"],
                     "initial_value": f"{origin['initial_value']:.6g}",
                     "trained_value": f"{data.get('ideal_value', data['value']):.6g}",
                     "built_value": f"{data['value']:.6g}",
                     "unit": _UNITS.get(data["kind"], "")})
    return rows


def provenance_csv(graph: nx.MultiGraph) -> str:
    """Return ``provenance_rows`` as CSV text with the header ``PROVENANCE_COLUMNS``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PROVENANCE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(provenance_rows(graph))
    return buffer.getvalue()
