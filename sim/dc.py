"""DC solution of a linear circuit graph by modified nodal analysis, for many inputs at once.

Supported elements: resistors, voltage sources, current sources, VCCS and VCVS.
Capacitors are open at DC. The unknowns are the node voltages and the currents of
the voltage sources and VCVS; the matrix is factored once (SciPy SuperLU) and each
input sample is one right-hand side. This is the twin of a crossbar: the same graph
that the netlist writer turns into SPICE text.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND

__all__ = ["DCSolution", "solve_dc"]


@dataclasses.dataclass(frozen=True)
class DCSolution:
    """Node voltages (V) and source currents (A), each of shape ``(n_samples,)``.

    A source current flows from the source's positive node through it to the negative
    node, as in SPICE.
    """

    voltages: dict[str, np.ndarray]
    currents: dict[str, np.ndarray]


def solve_dc(graph: nx.MultiGraph, sources: dict[str, np.ndarray] | None = None,
             n_samples: int = 1) -> DCSolution:
    """Solve ``graph`` at DC.

    Args:
        graph: the circuit graph.
        sources: voltage-source designator to its value per sample, shape
            ``(n_samples,)``; other sources keep their ``value``.
        n_samples: number of input samples.
    """
    sources = sources or {}
    nodes = [n for n in graph.nodes if n != GROUND]
    index = {node: k for k, node in enumerate(nodes)}
    branches = [key for _, _, key, data in graph.edges(keys=True, data=True)
                if data["kind"] in ("vsource", "vcvs")]
    branch_index = {key: len(nodes) + k for k, key in enumerate(branches)}
    size = len(nodes) + len(branches)
    rows, cols, vals = [], [], []
    rhs = np.zeros((size, n_samples))

    def stamp(r, c, v):
        if r is not None and c is not None:
            rows.append(r)
            cols.append(c)
            vals.append(v)

    for _, _, key, data in graph.edges(keys=True, data=True):
        p, n = index.get(data["pos"]), index.get(data["neg"])
        kind = data["kind"]
        if kind == "resistor":
            g = 1.0 / data["value"]
            for a, b in ((p, p), (n, n)):
                stamp(a, b, g)
            for a, b in ((p, n), (n, p)):
                stamp(a, b, -g)
        elif kind == "isource":
            if p is not None:
                rhs[p] -= data["value"]
            if n is not None:
                rhs[n] += data["value"]
        elif kind == "vccs":
            cp, cn = index.get(data["ctrl_pos"]), index.get(data["ctrl_neg"])
            for out, sign in ((p, 1.0), (n, -1.0)):
                stamp(out, cp, sign * data["value"])
                stamp(out, cn, -sign * data["value"])
        elif kind in ("vsource", "vcvs"):
            b = branch_index[key]
            stamp(p, b, 1.0)
            stamp(n, b, -1.0)
            stamp(b, p, 1.0)
            stamp(b, n, -1.0)
            if kind == "vcvs":
                stamp(b, index.get(data["ctrl_pos"]), -data["value"])
                stamp(b, index.get(data["ctrl_neg"]), data["value"])
            else:
                rhs[b] = np.broadcast_to(sources.get(key, data["value"]), (n_samples,))
        elif kind != "capacitor":
            raise CircuitError(f"the DC solver does not support {kind} elements ({key})")
    matrix = sp.coo_matrix((vals, (rows, cols)), shape=(size, size)).tocsc()
    try:
        solution = spla.splu(matrix).solve(rhs)
    except RuntimeError as err:
        raise CircuitError(f"the DC matrix is singular ({err}); a node has no DC path "
                           "to ground") from err
    voltages = {node: solution[k] for node, k in index.items()}
    voltages[GROUND] = np.zeros(n_samples)
    currents = {key: solution[branch_index[key]] for key in branches}
    return DCSolution(voltages, currents)
