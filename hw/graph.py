"""The circuit graph: one networkx multigraph that both simulators are built from.

Nodes are circuit nets named from the alphabet ``[a-z0-9_]``; ``0`` is ground.
Grid nodes are ``n_<i>`` or ``n_<i>_<j>``, and each Dirichlet side is one net
``b_<side>`` driven by a voltage source. Every edge is a component whose key is
its reference designator and whose data holds:

- ``kind``: ``resistor``, ``capacitor``, ``vsource`` or ``isource``;
- ``value``: ohms, farads, volts or amperes;
- ``pos`` and ``neg``: terminal nets (current of an ``isource`` flows from ``pos``
  through the source into ``neg``, SPICE's convention);
- ``term``: the PDE term it implements (``diffusion``, ``decay``, ``dirichlet``,
  ``source``, ``node_capacitance``);
- ``ic``: initial voltage in volts, on capacitors.
"""

from __future__ import annotations

import networkx as nx

from npdehw.hw.mapping import CircuitMapping
from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.grid import AXES

__all__ = ["GROUND", "build_diffusion_circuit", "components", "node_name", "state_nodes"]

GROUND = "0"


def node_name(index: tuple[int, ...]) -> str:
    """Return the net name of a grid node, for example ``n_3_7``."""
    return "n_" + "_".join(str(i) for i in index)


def build_diffusion_circuit(npde: DiffusionNPDE, mapping: CircuitMapping) -> nx.MultiGraph:
    """Return the RC grid that computes ``npde`` under ``mapping``."""
    graph = nx.MultiGraph(title="diffusion", time_scale_s=mapping.time_scale_s,
                          voltage_scale_v=mapping.voltage_scale_v)
    graph.add_node(GROUND, kind="ground")
    counter = _Designators()
    _add_grid_nodes(graph, npde, mapping, counter)
    _add_diffusion(graph, npde, mapping, counter)
    _add_boundaries(graph, npde, mapping, counter)
    return graph


class _Designators:
    """Hands out r1, r2, ..., c1, ... in the order components are added."""

    def __init__(self):
        self._counts = {}

    def next(self, letter: str) -> str:
        self._counts[letter] = self._counts.get(letter, 0) + 1
        return f"{letter}{self._counts[letter]}"


def _add_component(graph, counter, kind, pos, neg, value, term, **extra):
    letter = {"resistor": "r", "capacitor": "c", "vsource": "v", "isource": "i"}[kind]
    designator = counter.next(letter)
    graph.add_edge(pos, neg, key=designator, kind=kind, value=float(value), pos=pos, neg=neg,
                   term=term, designator=designator, **extra)


def _add_grid_nodes(graph, npde, mapping, counter):
    initial = npde.initial_state()
    source = npde.source_state()
    decay_g = mapping.conductance(npde.decay) if npde.decay > 0 else None
    for k, index in enumerate(npde.grid.indices()):
        name = node_name(index)
        graph.add_node(name, kind="state", index=index)
        _add_component(graph, counter, "capacitor", name, GROUND, mapping.capacitance_f,
                       "node_capacitance", ic=mapping.to_volts(initial[k]))
        if decay_g is not None:
            _add_component(graph, counter, "resistor", name, GROUND, 1 / decay_g, "decay")
        if source[k] != 0.0:
            # SPICE drives an isource's current from pos through the source to neg, so
            # current enters the grid node when it is the negative terminal.
            _add_component(graph, counter, "isource", GROUND, name,
                           mapping.source_current(source[k]), "source")


def _add_diffusion(graph, npde, mapping, counter):
    for a, b, axis in npde.grid.neighbour_pairs():
        g = mapping.conductance(npde.edge_rate(axis))
        _add_component(graph, counter, "resistor", node_name(a), node_name(b), 1 / g,
                       "diffusion", axis=AXES[axis])


def _add_boundaries(graph, npde, mapping, counter):
    driven = set()
    for index, side in npde.grid.boundary_links():
        net = f"b_{side}"
        if net not in driven:
            graph.add_node(net, kind="boundary", side=side)
            value = npde.grid.boundaries[side].value
            _add_component(graph, counter, "vsource", net, GROUND, mapping.to_volts(value),
                           "dirichlet")
            driven.add(net)
        axis = AXES.index(side[0])
        g = mapping.conductance(npde.edge_rate(axis))
        _add_component(graph, counter, "resistor", node_name(index), net, 1 / g, "diffusion",
                       axis=side[0])


def components(graph: nx.MultiGraph, kind: str | None = None):
    """Yield the data dicts of all components, or of those of one ``kind``."""
    for _, _, data in graph.edges(data=True):
        if kind is None or data["kind"] == kind:
            yield data


def state_nodes(graph: nx.MultiGraph) -> list[str]:
    """Return the grid nodes in construction order, which is C order of the grid."""
    return [name for name, kind in graph.nodes(data="kind") if kind == "state"]
