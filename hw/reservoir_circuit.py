"""Circuit graph of a reservoir: the NPDE's grid plus input resistors from a drive source.

The grid comes from ``npdehw.hw.builder.build_circuit``: capacitors, resistors for
diffusion and decay, transconductances for the one-way advection and behavioural
sources for the reaction. Each input node gets a resistor of conductance
``C |w| / a`` from the drive net ``in_p``, or from ``in_n`` for a negative weight. One
voltage source sets ``in_p`` to ``v d(t)`` and another sets ``in_n`` to ``-v d(t)``,
with ``v`` the voltage scale. ``with_drive`` gives them their piecewise-linear waveform.
"""

from __future__ import annotations

import re

import networkx as nx

from npdehw.hw.builder import build_circuit, node_of
from npdehw.hw.graph import GROUND, _add_component, _Designators
from npdehw.hw.mapping import CircuitMapping
from npdehw.models.reservoir import ReservoirSpec

__all__ = ["DRIVE_NETS", "build_reservoir_circuit", "drive_sources", "with_drive"]

DRIVE_NETS = {"in_p": 1.0, "in_n": -1.0}
"""Drive net to the sign of the drive it carries."""


def build_reservoir_circuit(spec: ReservoirSpec, mapping: CircuitMapping,
                            end_time: float) -> nx.MultiGraph:
    """Return the reservoir's circuit with its drive sources at 0 V."""
    npde = spec.npde(end_time)
    graph = build_circuit(npde, mapping)
    graph.graph["title"] = "reservoir"
    counter = _continued_designators(graph)
    used = {net: False for net in DRIVE_NETS}
    for index, weight in zip(spec.input_nodes, spec.input_weights):
        net = "in_p" if weight > 0 else "in_n"
        used[net] = True
        _add_component(graph, counter, "resistor", net, node_of(npde, "u", index),
                       1.0 / mapping.conductance(abs(weight)), "input")
    for net, needed in used.items():
        if needed:
            graph.add_node(net, kind="drive", sign=DRIVE_NETS[net])
            _add_component(graph, counter, "vsource", net, GROUND, 0.0, "input")
    return graph


def drive_sources(graph: nx.MultiGraph) -> dict[str, float]:
    """Return the designator of each drive source mapped to its sign (+1 or -1)."""
    return {key: DRIVE_NETS[data["pos"]] for _, _, key, data in graph.edges(keys=True, data=True)
            if data["kind"] == "vsource" and data["pos"] in DRIVE_NETS}


def with_drive(graph: nx.MultiGraph, points: list[tuple[float, float]]) -> nx.MultiGraph:
    """Return a copy of ``graph`` whose drive sources follow ``points`` (seconds, volts).

    ``points`` is the waveform of ``in_p``; ``in_n`` gets the same times with the
    voltages negated.
    """
    driven = graph.copy()
    for key, sign in drive_sources(graph).items():
        for _, _, name, data in driven.edges(keys=True, data=True):
            if name == key:
                data["waveform"] = [(t, sign * v) for t, v in points]
    return driven


def _continued_designators(graph: nx.MultiGraph) -> _Designators:
    """Return a designator counter that continues after the graph's r1, c1, ... numbers."""
    counter = _Designators()
    for key in (key for _, _, key in graph.edges(keys=True)):
        match = re.fullmatch(r"([a-z]+)(\d+)", key)
        if match:
            letter, number = match.group(1), int(match.group(2))
            counter._counts[letter] = max(counter._counts.get(letter, 0), number)
    return counter
