"""RC grids with one resistor per grid edge, located in space, for per-edge inverse problems.

The grid is the diffusion circuit of ``du/dt = lap(u)`` with unit node spacing and
a time scale of ``R C``, so every edge resistor starts at the nominal ``R`` and a
model time unit is one ``R C``. A Dirichlet side is one voltage source at 0 V joined
to its boundary nodes by edge resistors, which count as grid edges too.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from npdehw.hw.graph import GROUND, build_diffusion_circuit, components
from npdehw.hw.mapping import CircuitMapping
from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.fields import Constant
from npdehw.models.grid import Boundary, Grid, side_names

__all__ = ["EDGE_TERM", "build_edge_grid", "edge_positions", "edge_resistors",
           "scale_resistors", "with_initial_voltages"]

EDGE_TERM = "diffusion"


def build_edge_grid(shape: tuple[int, ...], boundary: str,
                    mapping: CircuitMapping) -> nx.MultiGraph:
    """Return the grid with every edge resistor at ``mapping.time_scale_s / capacitance_f``.

    Args:
        shape: nodes per axis, one or two entries.
        boundary: ``dirichlet`` (every side at 0 V) or ``zero_flux``.
        mapping: its ``capacitance_f`` is the node capacitance and ``time_scale_s``
            the ``R C`` product of the nominal edge.
    """
    sides = {side: Boundary(kind=boundary) for side in side_names(len(shape))}
    grid = Grid(shape=tuple(shape), spacing=(1.0,) * len(shape), boundaries=sides)
    npde = DiffusionNPDE(grid=grid, diffusion=1.0, initial=Constant(value=0.0), end_time=1.0)
    graph = build_diffusion_circuit(npde, mapping)
    nominal = mapping.time_scale_s / mapping.capacitance_f
    for data in edge_resistors(graph):
        data["value"] = float(nominal)
    return graph


def edge_resistors(graph: nx.MultiGraph) -> list[dict]:
    """Return the data of every edge resistor, in designator order of construction."""
    return [data for data in components(graph, "resistor") if data["term"] == EDGE_TERM]


def edge_positions(graph: nx.MultiGraph) -> dict[str, np.ndarray]:
    """Return each edge resistor's midpoint in grid-index units, by designator.

    A resistor to a Dirichlet side sits half a spacing outside its boundary node.
    """
    positions = {}
    for data in edge_resistors(graph):
        ends = [_node_position(graph, net, other)
                for net, other in ((data["pos"], data["neg"]), (data["neg"], data["pos"]))]
        positions[data["designator"]] = (ends[0] + ends[1]) / 2
    return positions


def _node_position(graph, net, other) -> np.ndarray:
    attributes = graph.nodes[net]
    if attributes.get("kind") == "state":
        return np.asarray(attributes["index"], dtype=float)
    # A boundary net: a ghost node one spacing beyond the state node at the other end.
    index = np.asarray(graph.nodes[other]["index"], dtype=float)
    side = attributes["side"]
    axis = "xy".index(side[0])
    index[axis] += -1.0 if side.endswith("low") else 1.0
    return index


def scale_resistors(graph: nx.MultiGraph, factors: dict[str, float]) -> nx.MultiGraph:
    """Return a copy of ``graph`` with each named resistor's value multiplied by its factor."""
    scaled = graph.copy()
    by_designator = {key: data for _, _, key, data in scaled.edges(keys=True, data=True)}
    for name, factor in factors.items():
        by_designator[name]["value"] = float(by_designator[name]["value"] * factor)
    return scaled


def with_initial_voltages(graph: nx.MultiGraph, volts: dict[str, float]) -> nx.MultiGraph:
    """Return a copy of ``graph`` whose node capacitors start at ``volts`` (by node name)."""
    started = graph.copy()
    for _, _, data in started.edges(data=True):
        if data["kind"] != "capacitor":
            continue
        node = data["pos"] if data["neg"] == GROUND else data["neg"]
        if node in volts:
            sign = 1.0 if node == data["pos"] else -1.0
            data["ic"] = sign * float(volts[node])
    return started
