"""A differentiable twin of a linear RC circuit whose conductances are trainable.

The circuit graph (``npdehw.hw.graph``) gives ``C dV/dt = -G(g) V + b(g)`` over the
nodes that carry a capacitor to ground, as ``npdehw.sim.twin.assemble`` does. Here
``G`` and ``b`` are dense torch tensors built from the conductances ``g`` (siemens)
of the resistors, so gradients reach every resistor. The signed incidence matrix
``D`` has one row per resistor (+1 at ``pos``, -1 at ``neg``) and columns for the
state nodes followed by the fixed nets. The full conductance matrix is
``L = D^T diag(g) D``, ``G`` is its state block, and ``b = -L[state, fixed] V_fixed``
plus the current sources. Dense tensors suit up to a few hundred nodes.

The integrators (``exact``, ``modal``, ``trapezoidal``, ``backward_euler``) are in
``npdehw.models.linear_trajectories``.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import numpy as np
import torch

from npdehw.models.linear_trajectories import (THETA, exponential_trajectory,
                                                modal_trajectory, theta_trajectory)
from npdehw.models.parametrize import BoundedPositive

__all__ = ["METHODS", "RCTwin"]

GROUND = "0"
METHODS = ("exact", "modal", *THETA)
_SUPPORTED = ("resistor", "capacitor", "vsource", "isource")


class RCTwin(torch.nn.Module):
    """``C dV/dt = -G(g) V + b(g)`` of a circuit graph, with some conductances trainable.

    Args:
        graph: circuit graph of resistors, grounded capacitors, grounded voltage
            sources and current sources.
        trainable: designators of the resistors whose conductances train.
        conductance_range_s: ``(low, high)`` in siemens for the trainable
            conductances. The default spans one decade either side of their values.
        initial_conductance_s: starting conductances of the trainable resistors,
            one value for all or one per designator. The default is the graph's.
        free_capacitors: designators of capacitors whose capacitances train too.
        capacitance_range_f: ``(low, high)`` in farads for those, by default one
            decade either side.

    Attributes:
        nodes: state node names, in the order of the state vector (length ``n``).
        designators: the trainable resistors, in parameter order.
        resistors: every resistor, in the order of ``resistor_conductances``.
        capacitors: every capacitor on a state node. ``free_capacitors`` lists the
            trainable ones.
        conductance: ``BoundedPositive`` of shape ``(len(designators),)``, siemens.
        capacitance: ``BoundedPositive`` of the free capacitors, or None.
    """

    def __init__(self, graph: nx.MultiGraph, trainable: Iterable[str], *,
                 conductance_range_s: tuple[float, float] | None = None,
                 initial_conductance_s=None, free_capacitors: Iterable[str] = (),
                 capacitance_range_f: tuple[float, float] | None = None):
        super().__init__()
        parts = _Parts(graph)
        self.nodes = parts.nodes
        self.designators = list(trainable)
        self.resistors = parts.resistors
        chosen = _positions(self.designators, parts.resistors, "resistor")
        values = 1.0 / torch.tensor(parts.resistance, dtype=torch.float64)
        self.register_buffer("_fixed_conductance", values)
        self.register_buffer("_trained_slots", torch.tensor(chosen, dtype=torch.long))
        self.register_buffer("_incidence", parts.incidence())
        self.register_buffer("_terminals", torch.tensor(parts.terminals, dtype=torch.long).T)
        self.register_buffer("_fixed_v", torch.tensor(parts.fixed_v, dtype=torch.float64))
        self.register_buffer("_source_a", torch.tensor(parts.source_a, dtype=torch.float64))
        self.register_buffer("initial_v", torch.tensor(parts.initial_v, dtype=torch.float64))
        start = values[chosen]
        if initial_conductance_s is not None:
            given = torch.as_tensor(initial_conductance_s, dtype=torch.float64)
            start = torch.broadcast_to(given, (len(chosen),))
        self.conductance = BoundedPositive(start, *_range(conductance_range_s, start))
        self._set_capacitors(parts, list(free_capacitors), capacitance_range_f)

    def _set_capacitors(self, parts, free, capacitance_range_f):
        self.capacitors = parts.capacitors
        slots = _positions(free, parts.capacitors, "capacitor")
        self.register_buffer("_capacitor_node", torch.tensor(parts.capacitor_node))
        self.register_buffer("_fixed_capacitance",
                             torch.tensor(parts.capacitance, dtype=torch.float64))
        self.register_buffer("_free_slots", torch.tensor(slots, dtype=torch.long))
        self.free_capacitors = free
        self.capacitance = None
        if free:
            start = self._fixed_capacitance[slots]
            self.capacitance = BoundedPositive(start, *_range(capacitance_range_f, start))

    def resistor_conductances(self, conductance: torch.Tensor | None = None) -> torch.Tensor:
        """Return the conductance of every resistor (``self.resistors`` order), siemens.

        ``conductance``, when given, replaces the trainable values (shape
        ``(len(designators),)``), for example a leaf tensor to differentiate against.
        """
        trained = self.conductance() if conductance is None else conductance
        return self._fixed_conductance.index_put((self._trained_slots,), trained)

    def node_capacitances(self, capacitance: torch.Tensor | None = None) -> torch.Tensor:
        """Return the capacitance to ground of every state node, shape ``(n,)``, farads."""
        values = self._fixed_capacitance
        if self.capacitance is not None or capacitance is not None:
            free = self.capacitance() if capacitance is None else capacitance
            values = values.index_put((self._free_slots,), free)
        total = torch.zeros(len(self.nodes), dtype=torch.float64)
        return total.index_add(0, self._capacitor_node, values)

    def system(self, conductance=None, capacitance=None):
        """Return ``(C, G, b)``: shapes ``(n,)``, ``(n, n)`` and ``(n,)`` in SI units."""
        full = self._incidence.T @ (self.resistor_conductances(conductance)[:, None]
                                    * self._incidence)
        n = len(self.nodes)
        matrix = full[:n, :n]
        constant = self._source_a - full[:n, n:] @ self._fixed_v
        return self.node_capacitances(capacitance), matrix, constant

    def rhs(self, state: torch.Tensor, conductance=None, capacitance=None) -> torch.Tensor:
        """Return ``dV/dt = (b - G V) / C`` for ``state`` of shape ``(..., n)``, volts/second.

        It sums the resistor currents node by node, without forming ``G``.
        """
        n = len(self.nodes)
        fixed = torch.broadcast_to(self._fixed_v, (*state.shape[:-1], len(self._fixed_v)))
        voltages = torch.cat([state, fixed], dim=-1)
        pos, neg = self._terminals
        current = self.resistor_conductances(conductance) * (voltages[..., pos]
                                                             - voltages[..., neg])
        net = torch.zeros_like(voltages).index_add(-1, neg, current).index_add(-1, pos, -current)
        return (net[..., :n] + self._source_a) / self.node_capacitances(capacitance)

    def forward(self, times_s, initial_v: torch.Tensor | None = None, *, method: str = "exact",
                max_step_s: float | None = None, conductance=None, capacitance=None):
        """Return the node voltages at ``times_s``, shape ``(n_times, ..., n)``, volts.

        Args:
            times_s: increasing output times from 0 (seconds). A time of 0 returns
                the initial state.
            initial_v: initial voltages of shape ``(..., n)``, by default the
                capacitor initial voltages of the graph.
            method: ``exact``, ``modal``, ``trapezoidal`` or ``backward_euler``.
            max_step_s: largest step of the theta scheme, which splits each output
                interval evenly. The theta methods require it.
        """
        initial = self.initial_v if initial_v is None else initial_v
        capacitance_f, matrix, constant = self.system(conductance, capacitance)
        if method == "exact":
            return exponential_trajectory(capacitance_f, matrix, constant, initial, times_s)
        if method == "modal":
            return modal_trajectory(capacitance_f, matrix, constant, initial, times_s)
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; use one of {list(METHODS)}")
        if max_step_s is None or not max_step_s > 0:
            raise ValueError(f"method {method!r} needs a positive max_step_s, got "
                             f"{max_step_s!r}")
        return theta_trajectory(capacitance_f, matrix, constant, initial, times_s,
                                THETA[method], max_step_s)

    def trainable_incidence(self) -> torch.Tensor:
        """Return the incidence rows of the trainable resistors over the state nodes.

        Shape ``(len(designators), n)``: row ``k`` is ``d_k`` with
        ``dG/dg_k = d_k d_k^T``.
        """
        return self._incidence[self._trained_slots, :len(self.nodes)]

    def resistances(self) -> dict[str, float]:
        """Return the trainable resistors' current resistances in ohms, by designator."""
        values = self.conductance().detach().numpy()
        return {name: 1.0 / float(g) for name, g in zip(self.designators, values)}


class _Parts:
    """Resistors, capacitors and sources of a graph, indexed for the twin."""

    def __init__(self, graph: nx.MultiGraph):
        self.fixed = {GROUND: 0.0}
        capacitors, self.resistors, resistor_nets, sources = [], [], [], []
        for _, _, key, data in graph.edges(keys=True, data=True):
            kind = data["kind"]
            if kind not in _SUPPORTED:
                raise ValueError(f"{kind} {key}: the RC twin supports only "
                                 f"{', '.join(_SUPPORTED)}")
            if kind == "vsource":
                self._add_fixed(key, data)
            elif kind == "capacitor":
                capacitors.append((key, data))
            elif kind == "resistor":
                self.resistors.append(key)
                resistor_nets.append((data["pos"], data["neg"], float(data["value"])))
            else:
                sources.append(data)
        self._index_capacitors(capacitors)
        self._index_nets(graph, resistor_nets, sources)

    def _add_fixed(self, key, data):
        if data["neg"] != GROUND:
            raise ValueError(f"voltage source {key} is not referenced to ground")
        waveform = data.get("waveform")
        if waveform is not None and any(volts != data["value"] for _, volts in waveform):
            raise ValueError(f"voltage source {key} has a waveform that changes; the RC "
                             "twin supports constant sources only")
        self.fixed[data["pos"]] = float(data["value"])

    def _index_capacitors(self, capacitors):
        self.capacitors, self.capacitance, grounded = [], [], []
        for key, data in capacitors:
            if GROUND not in (data["pos"], data["neg"]):
                raise ValueError(f"capacitor {key} is floating; the RC twin supports "
                                 "capacitors to ground only")
            node = data["pos"] if data["neg"] == GROUND else data["neg"]
            if node in self.fixed:
                continue  # a capacitor across a voltage source carries no state
            sign = 1.0 if node == data["pos"] else -1.0
            self.capacitors.append(key)
            self.capacitance.append(float(data["value"]))
            grounded.append((node, sign * data.get("ic", 0.0)))
        self._grounded = grounded

    def _index_nets(self, graph, resistor_nets, sources):
        self.nodes = [node for node in graph.nodes if node not in self.fixed]
        with_capacitor = {node for node, _ in self._grounded}
        missing = [node for node in self.nodes if node not in with_capacitor]
        if missing:
            raise ValueError(f"node {missing[0]} has no capacitor to ground; the RC twin "
                             "integrates capacitive nodes only")
        fixed_names = list(self.fixed)
        self.column = {name: k for k, name in enumerate(self.nodes + fixed_names)}
        self.fixed_v = [self.fixed[name] for name in fixed_names]
        self.capacitor_node = [self.column[node] for node, _ in self._grounded]
        initial = dict.fromkeys(self.nodes, 0.0)
        for node, volts in self._grounded:
            initial[node] = volts
        self.initial_v = [initial[node] for node in self.nodes]
        self.terminals = [(self.column[pos], self.column[neg]) for pos, neg, _ in resistor_nets]
        self.resistance = [value for _, _, value in resistor_nets]
        self.source_a = np.zeros(len(self.nodes))
        for data in sources:
            # SPICE convention: the current flows from pos through the source into neg.
            for net, sign in ((data["neg"], 1.0), (data["pos"], -1.0)):
                if net in self.column and self.column[net] < len(self.nodes):
                    self.source_a[self.column[net]] += sign * data["value"]

    def incidence(self) -> torch.Tensor:
        """Return ``D``, shape ``(n_resistors, n_nodes + n_fixed)``."""
        matrix = torch.zeros(len(self.terminals), len(self.column), dtype=torch.float64)
        for row, (pos, neg) in enumerate(self.terminals):
            matrix[row, pos] += 1.0
            matrix[row, neg] -= 1.0
        return matrix


def _positions(names: list[str], known: list[str], kind: str) -> list[int]:
    index = {name: k for k, name in enumerate(known)}
    missing = [name for name in names if name not in index]
    if missing:
        raise KeyError(f"no {kind} {missing[0]!r} in the circuit")
    if len(set(names)) != len(names):
        raise ValueError(f"the trainable {kind}s must be distinct")
    return [index[name] for name in names]


def _range(given, start: torch.Tensor) -> tuple[float, float]:
    if given is not None:
        return float(given[0]), float(given[1])
    if len(start) == 0:
        return 1.0, 10.0
    return float(start.min()) / 10.0, float(start.max()) * 10.0
