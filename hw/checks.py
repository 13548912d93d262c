"""Checks that a circuit graph can be written as a netlist and simulated.

The checks run before any simulator reads the circuit, so a bad design fails with
the name of the node or component at fault instead of a solver error.
"""

from __future__ import annotations

import math
import re

import networkx as nx

from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND

__all__ = ["SAFE_NAME", "check_circuit"]

SAFE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PASSIVE = ("resistor", "capacitor")
_KINDS = ("resistor", "capacitor", "vsource", "isource", "vccs", "vcvs", "bsource",
          "bvsource")


def check_circuit(graph: nx.MultiGraph, *, needs_operating_point: bool = False) -> None:
    """Raise CircuitError unless ``graph`` is a valid circuit.

    Args:
        graph: the circuit graph.
        needs_operating_point: True when the analysis computes a DC operating
            point, which needs a resistive path to ground from every node. A
            transient started with ``uic`` only needs some path.
    """
    _check_names(graph)
    _check_values(graph)
    _check_reaches_ground(graph, resistive=False)
    _check_connected(graph)
    if needs_operating_point:
        _check_reaches_ground(graph, resistive=True)


def _check_names(graph):
    for node in graph.nodes:
        if node != GROUND and not SAFE_NAME.match(str(node)):
            raise CircuitError(f"node name {node!r} is not in the alphabet [a-z0-9_] "
                               "starting with a letter; rename it")
    for _, _, key, data in graph.edges(keys=True, data=True):
        if not SAFE_NAME.match(str(key)):
            raise CircuitError(f"component name {key!r} is not in the alphabet [a-z0-9_]")
        if data.get("kind") not in _KINDS:
            raise CircuitError(f"component {key} has unknown kind {data.get('kind')!r}")


def _check_values(graph):
    for _, _, key, data in graph.edges(keys=True, data=True):
        value = data.get("value")
        if data.get("kind") in ("bsource", "bvsource"):
            _check_expression(key, data.get("expression"))
            continue
        if not isinstance(value, float) or not math.isfinite(value):
            raise CircuitError(f"component {key} has a non-finite value {value!r}")
        if data["kind"] in _PASSIVE and value <= 0:
            raise CircuitError(f"{data['kind']} {key} has value {value!r}; it must be positive "
                               "(ngspice silently turns a zero resistor into one milliohm)")
        ic = data.get("ic", 0.0)
        if not math.isfinite(ic):
            raise CircuitError(f"capacitor {key} has a non-finite initial voltage {ic!r}")


def _links(graph):
    """Yield the node pairs each element ties together, control and input nodes included."""
    terminals = {key: (data["pos"], data["neg"])
                 for _, _, key, data in graph.edges(keys=True, data=True)}
    for u, v, data in graph.edges(data=True):
        yield u, v
        if data["kind"] in ("bsource", "bvsource"):
            out = data["pos"] if data["pos"] != GROUND else data["neg"]
            for source in _bsource_ammeters(data):
                if source in terminals:
                    yield out, next(n for n in terminals[source] if n != GROUND)
        if data["kind"] in ("vccs", "vcvs"):
            yield data["ctrl_pos"], data["pos"] if data["pos"] != GROUND else data["neg"]
            yield data["ctrl_neg"], data["pos"] if data["pos"] != GROUND else data["neg"]
        elif data["kind"] in ("bsource", "bvsource"):
            out = data["pos"] if data["pos"] != GROUND else data["neg"]
            for node in _bsource_inputs(data):
                yield node, out


def _bsource_inputs(data):
    return sorted(set(re.findall(r"v\(([a-z0-9_]+)\)", data["expression"])))


def _bsource_ammeters(data):
    return sorted(set(re.findall(r"i\(([a-z0-9_]+)\)", data["expression"])))


_EXPRESSION = re.compile(r"^[a-z0-9_().,+\-*/ ]+$")


def _check_expression(key, expression):
    if not isinstance(expression, str) or not _EXPRESSION.match(expression):
        raise CircuitError(f"behavioural source {key} has an expression outside the "
                           f"characters [a-z0-9_().,+-*/ ]: {expression!r}")


def _check_connected(graph):
    links = nx.Graph()
    links.add_nodes_from(graph.nodes)
    links.add_edges_from(_links(graph))
    without_ground = links.subgraph(n for n in links.nodes if n != GROUND)
    parts = sorted(nx.connected_components(without_ground), key=len, reverse=True)
    if len(parts) > 1:
        stray = sorted(parts[1])[0]
        raise CircuitError(f"node {stray} has no connection to the rest of the circuit "
                           f"({len(parts) - 1} separate group(s) of nodes); connect it or "
                           "remove it")


def _check_reaches_ground(graph, *, resistive):
    if GROUND not in graph:
        raise CircuitError("the circuit has no ground node '0'")
    kinds = ("resistor", "vsource", "vcvs", "bvsource") if resistive else _KINDS
    paths = nx.Graph()
    paths.add_nodes_from(graph.nodes)
    paths.add_edges_from((u, v) for u, v, kind in graph.edges(data="kind") if kind in kinds)
    reached = nx.node_connected_component(paths, GROUND)
    for node in graph.nodes:
        if node in reached:
            continue
        if resistive:
            raise CircuitError(f"node {node} has no resistive path to ground, so the DC "
                               "operating point is singular; add a resistor to ground or "
                               "start the transient with uic")
        raise CircuitError(f"node {node} has no path to ground; connect it to the circuit")
