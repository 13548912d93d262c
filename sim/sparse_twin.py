"""The sparse, differentiable twin of a linear circuit graph, one conductance per resistor.

``sparse_system`` splits a circuit graph into the resistors, whose conductances
become parameters of ``npdehw.models.sparse_grad``, and everything else, which
``npdehw.sim.twin.assemble`` turns into the capacitances, the transconductance
matrix, the source currents and the initial voltages. The state order is the one
``assemble`` uses, so both twins report the same node order.
"""

from __future__ import annotations

import dataclasses
import time

import networkx as nx
import numpy as np
import torch

from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND
from npdehw.models.integrators import METHODS
from npdehw.models.sparse_grad import RCNetwork, SparseThetaStepper
from npdehw.sim.twin import TwinResult, assemble

__all__ = ["SparseTwinSystem", "run_sparse_twin", "sparse_system"]


@dataclasses.dataclass(frozen=True, eq=False)
class SparseTwinSystem:
    """A linear circuit as an ``RCNetwork`` plus its values, SI units.

    Attributes:
        network: resistor topology and the transconductance matrix.
        nodes: state net names, length ``n``.
        designators: resistor designators in the order of ``conductance_s`` (length
            ``m``). Resistors between two fixed nets carry no state and are left out.
        conductance_s: shape ``(m,)``.
        capacitance_f: shape ``(n,)``.
        fixed_nets: names of the fixed nets (ground, voltage-source nets), length ``f``.
        fixed_v: shape ``(f,)``.
        source_a: currents into the nodes from current sources and from
            transconductances controlled by fixed nets, shape ``(n,)``.
        initial_v: capacitor initial voltages, shape ``(n,)``.
    """

    network: RCNetwork
    nodes: list[str]
    designators: list[str]
    conductance_s: np.ndarray
    capacitance_f: np.ndarray
    fixed_nets: list[str]
    fixed_v: np.ndarray
    source_a: np.ndarray
    initial_v: np.ndarray

    def stepper(self, dt_s: float, method: str = "trapezoidal", *, conductance_s=None,
                capacitance_f=None, fixed_v=None, source_a=None) -> SparseThetaStepper:
        """Return a stepper with this system's values, or with the tensors given instead."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {sorted(METHODS)}")

        def pick(given, own):
            return torch.from_numpy(own) if given is None else given

        return SparseThetaStepper(
            self.network, conductance_s=pick(conductance_s, self.conductance_s),
            capacitance_f=pick(capacitance_f, self.capacitance_f), dt_s=dt_s,
            theta=METHODS[method], fixed_v=pick(fixed_v, self.fixed_v),
            source_a=pick(source_a, self.source_a))


def _without_resistors(graph: nx.MultiGraph) -> nx.MultiGraph:
    """Return a graph with the same nodes, in the same order, and every non-resistor edge."""
    skeleton = nx.MultiGraph()
    skeleton.add_nodes_from(graph.nodes(data=True))
    skeleton.add_edges_from((u, v, key, data) for u, v, key, data
                            in graph.edges(keys=True, data=True) if data["kind"] != "resistor")
    return skeleton


def sparse_system(graph: nx.MultiGraph) -> SparseTwinSystem:
    """Return the sparse twin's system of a linear circuit graph.

    Raises:
        CircuitError: for behavioural sources (the sparse twin is linear only) and
            for what ``assemble`` rejects (floating capacitors, nodes without one).
    """
    rest = assemble(_without_resistors(graph))
    if rest.nonlinear is not None:
        raise CircuitError("the circuit has behavioural sources; the sparse twin integrates "
                           "linear circuits only, so use npdehw.sim.twin.run_twin")
    n = len(rest.nodes)
    column = {node: k for k, node in enumerate(rest.nodes)}
    fixed = {GROUND: 0.0}
    for _, _, data in graph.edges(data=True):
        if data["kind"] == "vsource":
            fixed[data["pos"]] = data["value"]
    fixed_nets = [net for net in fixed if net not in column]
    column.update({net: n + p for p, net in enumerate(fixed_nets)})
    designators, terminals, conductance = [], [], []
    for _, _, key, data in graph.edges(keys=True, data=True):
        if data["kind"] != "resistor":
            continue
        ends = (column[data["pos"]], column[data["neg"]])
        if min(ends) >= n:
            continue
        designators.append(key)
        terminals.append(ends)
        conductance.append(1.0 / data["value"])
    static = rest.conductance_s if rest.conductance_s.nnz else None
    network = RCNetwork(np.array(terminals, dtype=np.int64).reshape(-1, 2), n, len(fixed_nets),
                        static)
    return SparseTwinSystem(network, rest.nodes, designators, np.array(conductance),
                            rest.capacitance_f, fixed_nets,
                            np.array([fixed[net] for net in fixed_nets]), rest.constant_a,
                            rest.initial_v)


def run_sparse_twin(graph: nx.MultiGraph, *, stop_s: float, n_steps: int, save_every: int,
                    method: str = "trapezoidal") -> TwinResult:
    """Integrate a linear circuit with the sparse twin; the result matches ``run_twin``'s."""
    start = time.perf_counter()
    system = sparse_system(graph)
    dt = stop_s / n_steps
    stepper = system.stepper(dt, method)
    with torch.no_grad():
        states = stepper.integrate(torch.from_numpy(system.initial_v), n_steps, save_every)
    elapsed = time.perf_counter() - start
    times = dt * np.arange(0, n_steps + 1, save_every)
    options = {"method": method, "backend": "sparse_grad", "dt_s": dt, "n_steps": n_steps}
    return TwinResult(times, system.nodes, states.numpy(), elapsed, options)
