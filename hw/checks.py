"""Checks that a circuit graph can be written as a netlist and simulated.

The checks run before any simulator reads the circuit, so a bad design fails with
the name of the node or component at fault instead of a solver error.
"""

from __future__ import annotations

import math
import re

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND, paused_gc

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
    with paused_gc():
        # iter() first, because list() calls len() on networkx's edge view, which is a
        # second pass over every edge.
        edges = list(iter(graph.edges(keys=True, data=True)))
        _check_names(graph, edges)
        _check_values(edges)
        numbering = _Numbering(graph)
        _check_reaches_ground(graph, edges, numbering, resistive=False)
        _check_connected(edges, numbering)
        if needs_operating_point:
            _check_reaches_ground(graph, edges, numbering, resistive=True)


def _check_names(graph, edges):
    for node in graph.nodes:
        if node != GROUND and not SAFE_NAME.match(str(node)):
            raise CircuitError(f"node name {node!r} is not in the alphabet [a-z0-9_] "
                               "starting with a letter; rename it")
    for _, _, key, data in edges:
        if not SAFE_NAME.match(str(key)):
            raise CircuitError(f"component name {key!r} is not in the alphabet [a-z0-9_]")
        if data.get("kind") not in _KINDS:
            raise CircuitError(f"component {key} has unknown kind {data.get('kind')!r}")


def _check_values(edges):
    for _, _, key, data in edges:
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


class _Numbering:
    """Integer indices of nets: the graph's nodes in order, then any net named only by a link.

    Connectivity runs on ``scipy.sparse.csgraph`` over these indices, because building
    a networkx graph of the links took most of the check's time on large grids.
    """

    def __init__(self, graph):
        self.names = list(graph.nodes)
        self.index = {node: k for k, node in enumerate(self.names)}

    def numbers(self, nets: list) -> np.ndarray:
        """Return the index of each net, numbering new ones in order after the others."""
        index = self.index
        try:
            return np.array([index[net] for net in nets], dtype=np.int64)
        except KeyError:
            pass
        for net in nets:
            if net not in index:
                index[net] = len(self.names)
                self.names.append(net)
        return np.array([index[net] for net in nets], dtype=np.int64)

    def components(self, pairs: list, without=None) -> np.ndarray:
        """Return the connected-component label of every net, linked by ``pairs``.

        Pairs that touch the net ``without`` link nothing, but their other net is
        still numbered.
        """
        ends = self.numbers([net for pair in pairs for net in pair])
        rows, cols = ends[0::2], ends[1::2]
        if without is not None:
            skip = self.index[without]
            keep = (rows != skip) & (cols != skip)
            rows, cols = rows[keep], cols[keep]
        size = len(self.names)
        adjacency = sp.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                                  shape=(size, size))
        return csgraph.connected_components(adjacency, directed=False)[1]


def _links(edges):
    """Yield the node pairs each element ties together, control and input nodes included."""
    terminals = {key: (data["pos"], data["neg"]) for _, _, key, data in edges}
    for u, v, _, data in edges:
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


_VOLTAGE_READ = re.compile(r"v\(([a-z0-9_]+)\)")
_CURRENT_READ = re.compile(r"i\(([a-z0-9_]+)\)")


def _bsource_inputs(data):
    return sorted(set(_VOLTAGE_READ.findall(data["expression"])))


def _bsource_ammeters(data):
    return sorted(set(_CURRENT_READ.findall(data["expression"])))


_EXPRESSION = re.compile(r"^[a-z0-9_().,+\-*/ ]+$")


def _check_expression(key, expression):
    if not isinstance(expression, str) or not _EXPRESSION.match(expression):
        raise CircuitError(f"behavioural source {key} has an expression outside the "
                           f"characters [a-z0-9_().,+-*/ ]: {expression!r}")


def _check_connected(edges, numbering):
    labels = numbering.components(list(_links(edges)), without=GROUND)
    # Groups of nets other than ground, largest first. Equal sizes keep the order of
    # their first net, as networkx's connected_components lists them.
    keep = np.ones(len(labels), dtype=bool)
    keep[numbering.index[GROUND]] = False
    other_nets = np.flatnonzero(keep)
    groups, first, sizes = np.unique(labels[other_nets], return_index=True,
                                     return_counts=True)
    if len(groups) < 2:
        return
    order = sorted(range(len(groups)), key=lambda g: (-sizes[g], first[g]))
    members = other_nets[labels[other_nets] == groups[order[1]]]
    stray = sorted(numbering.names[k] for k in members)[0]
    raise CircuitError(f"node {stray} has no connection to the rest of the circuit "
                       f"({len(groups) - 1} separate group(s) of nodes); connect it or "
                       "remove it")


def _check_reaches_ground(graph, edges, numbering, *, resistive):
    if GROUND not in graph:
        raise CircuitError("the circuit has no ground node '0'")
    kinds = ("resistor", "vsource", "vcvs", "bvsource") if resistive else _KINDS
    labels = numbering.components([(u, v) for u, v, _, data in edges if data["kind"] in kinds])
    own = labels[:graph.number_of_nodes()]
    unreached = np.flatnonzero(own != labels[numbering.index[GROUND]])
    if len(unreached) == 0:
        return
    node = numbering.names[unreached[0]]
    if resistive:
        raise CircuitError(f"node {node} has no resistive path to ground, so the DC "
                           "operating point is singular; add a resistor to ground or "
                           "start the transient with uic")
    raise CircuitError(f"node {node} has no path to ground; connect it to the circuit")
