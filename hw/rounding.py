"""Rounding of a circuit's resistors and capacitors to purchasable E-series values."""

from __future__ import annotations

import networkx as nx
import numpy as np

from npdehw.errors import SpecError
from npdehw.hw.eseries import get_series, quantize
from npdehw.hw.mapping import CircuitMapping

__all__ = ["round_to_series"]


def round_to_series(graph: nx.MultiGraph, mapping: CircuitMapping) -> nx.MultiGraph:
    """Return a copy of ``graph`` with resistors and capacitors rounded to their series.

    Each rounded component keeps its exact value as ``ideal_value`` and records
    ``series`` and ``tolerance`` (a fraction, 0.01 for E96).
    """
    rounded = graph.copy()
    catalogue = {
        "resistor": ("resistance_range_ohm", mapping.resistor_series,
                     mapping.resistance_range_ohm),
        "capacitor": ("capacitance_range_f", mapping.capacitor_series,
                      mapping.capacitance_range_f),
    }
    for kind, (range_key, series_name, (low, high)) in catalogue.items():
        series = get_series(series_name)
        parts = [data for _, _, data in rounded.edges(data=True) if data["kind"] == kind]
        if not parts:
            continue
        ideal = np.array([data["value"] for data in parts])
        unit = "ohm" if kind == "resistor" else "F"
        for data in parts:
            if not low * (1 - 1e-9) <= data["value"] <= high * (1 + 1e-9):
                raise SpecError(range_key, f"{kind} {data['designator']} needs "
                                f"{data['value']:.6g} {unit}, outside the catalogue range "
                                f"[{low:g}, {high:g}] {unit}; widen the range or change "
                                "time_scale_s or capacitance_f")
        try:
            values = quantize(ideal, series, low, high)
        except ValueError as err:
            raise SpecError(range_key, f"cannot round the {kind}s: {err}") from err
        for data, exact, value in zip(parts, ideal, values):
            data.update(ideal_value=float(exact), value=float(value), series=series.name,
                        tolerance=series.tolerance)
    return rounded
