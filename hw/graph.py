"""The circuit graph: one networkx multigraph that both simulators are built from.

Nodes are circuit nets named from the alphabet ``[a-z0-9_]``; ``0`` is ground.
Grid nodes are ``n_<i>`` or ``n_<i>_<j>``, and each Dirichlet side is one net
``b_<side>`` driven by a voltage source. Every edge is a component whose key is
its reference designator and whose data holds:

- ``kind``: ``resistor``, ``capacitor``, ``vsource``, ``isource``, the ``vccs``
  and ``bsource`` that ``npdehw.hw.builder`` describes, a ``vcvs`` (an op-amp
  macro model, ``npdehw.hw.crossbar_circuit``) or a ``bvsource`` (a behavioural
  voltage source whose ``expression`` gives V(pos) - V(neg));
- ``value``: ohms, farads, volts, amperes or siemens;
- ``pos`` and ``neg``: terminal nets (current of an ``isource`` flows from ``pos``
  through the source into ``neg``, SPICE's convention);
- ``term``: the PDE term it implements (``diffusion``, ``decay``, ``dirichlet``,
  ``source``, ``node_capacitance``);
- ``ic``: initial voltage in volts, on capacitors;
- ``waveform``: on a ``vsource``, optional ``(time_s, volts)`` points of a
  piecewise-linear source that replaces the DC ``value`` in the netlist.
"""

from __future__ import annotations

import contextlib
import gc

import networkx as nx

from npdehw.hw.mapping import CircuitMapping
from npdehw.models.diffusion import DiffusionNPDE

__all__ = ["GROUND", "build_diffusion_circuit", "components", "node_name", "paused_gc",
           "state_nodes"]

GROUND = "0"


def node_name(index: tuple[int, ...]) -> str:
    """Return the net name of a grid node, for example ``n_3_7``."""
    return "n_" + "_".join(str(i) for i in index)


def build_diffusion_circuit(npde: DiffusionNPDE, mapping: CircuitMapping) -> nx.MultiGraph:
    """Return the RC grid that computes ``npde`` under ``mapping``."""
    from npdehw.hw.builder import build_circuit

    return build_circuit(npde.to_npde(), mapping)


class _Designators:
    """Hands out r1, r2, ..., c1, ... in the order components are added."""

    def __init__(self):
        self._counts = {}

    def next(self, letter: str) -> str:
        self._counts[letter] = self._counts.get(letter, 0) + 1
        return f"{letter}{self._counts[letter]}"


_LETTERS = {"resistor": "r", "capacitor": "c", "vsource": "v", "isource": "i", "vccs": "g",
            "vcvs": "e", "bsource": "b", "bvsource": "b"}


def _add_component(graph, counter, kind, pos, neg, value, term, **extra):
    designator = counter.next(_LETTERS[kind])
    graph.add_edge(pos, neg, key=designator, kind=kind, value=float(value), pos=pos, neg=neg,
                   term=term, designator=designator, **extra)


def components(graph: nx.MultiGraph, kind: str | None = None):
    """Yield the data dicts of all components, or of those of one ``kind``."""
    for _, _, data in graph.edges(data=True):
        if kind is None or data["kind"] == kind:
            yield data


def state_nodes(graph: nx.MultiGraph) -> list[str]:
    """Return the grid nodes in construction order, which is C order of the grid."""
    return [name for name, kind in graph.nodes(data="kind") if kind == "state"]


@contextlib.contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector inside the block, then restore its state.

    Building or writing a large circuit creates a few dicts per component that all
    outlive the block, so the collector's full collections walk them without
    finding garbage. On a shared 2-core machine the 200 x 200 heat2d build took
    4.5 s with the collector and 2.2 s without. Reference counting still frees
    everything that is not in a reference cycle.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
