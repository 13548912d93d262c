"""The digital twin: the circuit graph's node equations integrated in torch.

Kirchhoff's current law at the nodes that carry a capacitor gives
``C dV/dt = -G V + b`` where ``G`` collects the resistors among those nodes and to
fixed nets, and ``b`` the currents from voltage-source nets and current sources.
The twin reads the same graph as the netlist writer, so both simulate one circuit.
"""

from __future__ import annotations

import dataclasses
import time

import networkx as nx
import numpy as np
import scipy.sparse as sp
import torch

from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND
from npdehw.models.integrators import LinearStepper

__all__ = ["CircuitSystem", "TwinResult", "assemble", "run_twin"]


@dataclasses.dataclass(frozen=True)
class CircuitSystem:
    """``C dV/dt = -G V + b`` over the capacitive nodes, SI units.

    Attributes:
        nodes: net names in the order of the state vector, length ``n``.
        capacitance_f: shape ``(n,)``.
        conductance_s: sparse, shape ``(n, n)``.
        constant_a: currents into each node from fixed nets and sources, shape ``(n,)``.
        initial_v: capacitor initial voltages, shape ``(n,)``.
        nonlinear: behavioural currents into each node as a function of the state
            (tensors of shape ``(n,)``), or None for a linear circuit.
    """

    nodes: list[str]
    capacitance_f: np.ndarray
    conductance_s: sp.csr_matrix
    constant_a: np.ndarray
    initial_v: np.ndarray
    nonlinear: object = None


@dataclasses.dataclass(frozen=True)
class TwinResult:
    """Twin trajectory: ``voltages`` has shape ``(n_times, n_nodes)`` in volts."""

    time_s: np.ndarray
    nodes: list[str]
    voltages: np.ndarray
    elapsed_s: float
    options: dict


def _fixed_voltages(graph: nx.MultiGraph) -> dict[str, float]:
    fixed = {GROUND: 0.0}
    for _, _, data in graph.edges(data=True):
        if data["kind"] == "vsource":
            if data["neg"] != GROUND:
                raise CircuitError(f"voltage source {data['designator']} is not referenced to "
                                   "ground; the twin supports grounded sources only")
            fixed[data["pos"]] = data["value"]
    return fixed


def assemble(graph: nx.MultiGraph) -> CircuitSystem:
    """Return the node equations of ``graph``; every free node needs a capacitor to ground."""
    fixed = _fixed_voltages(graph)
    capacitance, initial = {}, {}
    for _, _, data in graph.edges(data=True):
        if data["kind"] == "capacitor":
            node = data["pos"] if data["neg"] == GROUND else data["neg"]
            if GROUND not in (data["pos"], data["neg"]):
                raise CircuitError(f"capacitor {data['designator']} is floating; the twin "
                                   "supports capacitors to ground only")
            sign = 1.0 if node == data["pos"] else -1.0
            capacitance[node] = capacitance.get(node, 0.0) + data["value"]
            initial[node] = sign * data.get("ic", 0.0)
    nodes = [n for n in graph.nodes if n not in fixed]
    for node in nodes:
        if node not in capacitance:
            raise CircuitError(f"node {node} has no capacitor to ground; the twin integrates "
                               "capacitive nodes only")
    position = {node: k for k, node in enumerate(nodes)}
    rows, cols, vals = [], [], []
    constant = np.zeros(len(nodes))
    for _, _, data in graph.edges(data=True):
        _stamp(data, position, fixed, rows, cols, vals, constant)
    n = len(nodes)
    conductance = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    return CircuitSystem(nodes, np.array([capacitance[v] for v in nodes]), conductance,
                         constant, np.array([initial[v] for v in nodes]),
                         _behavioural_currents(graph, position))


def _behavioural_currents(graph, position):
    """Return F(V), the currents of all behavioural sources into the state nodes, or None."""
    groups = {}
    for _, _, data in graph.edges(data=True):
        if data["kind"] == "bsource":
            groups.setdefault(data["group"], []).append(data)
    if not groups:
        return None
    plans = []
    for group, sources in groups.items():
        missing = [node for node in group.input_nodes if node not in position]
        if missing:
            raise CircuitError(f"behavioural source {sources[0]['designator']} reads "
                               f"{missing[0]}, which is not a capacitive node")
        inputs = torch.tensor([position[node] for node in group.input_nodes])
        slots = torch.tensor([data["slot"] for data in sources])
        into = [_signed_index(data, position) for data in sources]
        signs = torch.tensor([sign for sign, _ in into], dtype=torch.float64)
        indices = torch.tensor([index for _, index in into])
        plans.append((group.function, inputs, slots, (signs, indices)))
    size = len(position)

    def currents(state):
        total = torch.zeros(size, dtype=state.dtype)
        for function, inputs, slots, (sign, index) in plans:
            total = total.index_add(0, index, sign * function(state[inputs])[slots])
        return total

    return currents


def _signed_index(data, position):
    """Return (sign, node index): the source's current enters ``neg`` and leaves ``pos``."""
    if data["neg"] in position and data["pos"] == GROUND:
        return 1.0, position[data["neg"]]
    if data["pos"] in position and data["neg"] == GROUND:
        return -1.0, position[data["pos"]]
    raise CircuitError(f"behavioural source {data['designator']} must connect a node to ground")


def _stamp(data, position, fixed, rows, cols, vals, constant):
    pos, neg = data["pos"], data["neg"]
    if data["kind"] == "vccs":
        _stamp_vccs(data, position, fixed, rows, cols, vals, constant)
        return
    if data["kind"] == "isource":
        if neg in position:
            constant[position[neg]] += data["value"]
        if pos in position:
            constant[position[pos]] -= data["value"]
        return
    if data["kind"] != "resistor":
        return
    g = 1.0 / data["value"]
    for node, other in ((pos, neg), (neg, pos)):
        if node not in position:
            continue
        i = position[node]
        rows += [i]
        cols += [i]
        vals += [g]
        if other in position:
            rows += [i]
            cols += [position[other]]
            vals += [-g]
        else:
            constant[i] += g * fixed[other]


def _stamp_vccs(data, position, fixed, rows, cols, vals, constant):
    # The current gm (V(ctrl_pos) - V(ctrl_neg)) flows out of pos and into neg. In the
    # -G V + b form the receiving node therefore gets -gm in its ctrl_pos column.
    gm = data["value"]
    for node, sign in ((data["neg"], 1.0), (data["pos"], -1.0)):
        if node not in position:
            continue
        i = position[node]
        for control, polarity in ((data["ctrl_pos"], 1.0), (data["ctrl_neg"], -1.0)):
            if control in position:
                rows.append(i)
                cols.append(position[control])
                vals.append(-sign * polarity * gm)
            else:
                constant[i] += sign * polarity * gm * fixed[control]


def run_twin(graph: nx.MultiGraph, *, stop_s: float, n_steps: int, save_every: int,
             method: str = "trapezoidal", backend: str = "auto") -> TwinResult:
    """Integrate the circuit from its initial voltages to ``stop_s`` seconds."""
    start = time.perf_counter()
    system = assemble(graph)
    dt = stop_s / n_steps
    stepper = LinearStepper(system.capacitance_f, system.conductance_s, dt, method, backend)
    with torch.no_grad():
        states = stepper.integrate(torch.from_numpy(system.initial_v),
                                   torch.from_numpy(system.constant_a), n_steps, save_every,
                                   nonlinear=system.nonlinear)
    elapsed = time.perf_counter() - start
    times = dt * np.arange(0, n_steps + 1, save_every)
    options = {"method": method, "backend": stepper.backend, "dt_s": dt, "n_steps": n_steps}
    return TwinResult(times, system.nodes, states.numpy(), elapsed, options)
