"""Circuit graph of a general NPDE: RC grid, transconductances and behavioural sources.

With node capacitance C, time scale a (s per model time unit) and voltage scale
v (V per model unit), a rate w (1 / model time) becomes a conductance
``C w / a`` and a model-unit rate of change r becomes a current ``C v r / a``:

| PDE term | element |
|---|---|
| symmetric positive coupling within a field | resistor between the nodes |
| that coupling to a Dirichlet ghost | resistor to the side's net, driven by a voltage source |
| negative, one-way or cross-field coupling | VCCS (kind ``vccs``, SPICE G element) |
| net negative self rate (decay) | resistor to ground |
| net positive self rate | VCCS from the node into itself |
| reaction, non-linear non-local term | behavioural current source (kind ``bsource``) |
| source, bias | current source |

Component data follows ``npdehw.hw.graph``; a ``vccs`` also stores ``ctrl_pos`` and
``ctrl_neg`` and its ``value`` is the transconductance in siemens (current flows from
``pos`` through the source into ``neg``); a ``bsource`` stores its SPICE expression
as ``expression`` and a ``group`` with a ``slot`` for the twin.
"""

from __future__ import annotations

import dataclasses
import itertools

import networkx as nx
import numpy as np
import torch

from npdehw.hw.graph import GROUND, _Designators, _add_component, paused_gc
from npdehw.hw.mapping import CircuitMapping
from npdehw.hw.netlist import format_value
from npdehw.models.npde import NPDE, activation_torch

__all__ = ["BehaviouralGroup", "build_circuit", "node_of", "state_node_names"]

_RELATIVE_ZERO = 1e-12
_SPICE_ACTIVATION = {
    "identity": "({x})",
    "tanh": "tanh({x})",
    "sigmoid": "(1/(1+exp(-({x}))))",
    "relu": "max({x},0)",
    "pwl_sat": "(0.5*(abs({x}+1)-abs({x}-1)))",
}


@dataclasses.dataclass(eq=False)
class BehaviouralGroup:
    """The behavioural sources of one PDE term, evaluated together by the twin.

    ``function`` maps the voltages of ``input_nodes`` (a tensor of shape
    ``(len(input_nodes),)``) to the currents in amperes of the sources, one per slot.
    """

    label: str
    input_nodes: list[str]
    function: object


def state_node_names(npde: NPDE) -> list[str]:
    """Return the net name of every state entry, in state order."""
    indices = list(npde.grid.indices())
    return [node_of(npde, field, index) for field in npde.fields for index in indices]


def node_of(npde: NPDE, field: str, index: tuple[int, ...]) -> str:
    """Return the net name of ``field`` at grid ``index``."""
    suffix = "_".join(map(str, index))
    return f"n_{suffix}" if len(npde.fields) == 1 else f"{field}_{suffix}"


def build_circuit(npde: NPDE, mapping: CircuitMapping) -> nx.MultiGraph:
    """Return the circuit graph that computes ``npde`` under ``mapping``."""
    graph = nx.MultiGraph(title="npde", time_scale_s=mapping.time_scale_s,
                          voltage_scale_v=mapping.voltage_scale_v)
    graph.add_node(GROUND, kind="ground")
    with paused_gc():
        builder = _Builder(graph, npde, mapping)
        builder.add_nodes()
        for term in npde.linear:
            builder.add_linear(term)
        for term in npde.reactions:
            builder.add_reaction(term)
        for term in npde.nonlocal_terms:
            builder.add_nonlocal(term)
    return graph


class _Builder:
    def __init__(self, graph, npde, mapping):
        self.graph, self.npde, self.mapping = graph, npde, mapping
        self.names = state_node_names(npde)
        self.counter = _Designators()
        self.conductance_per_rate = mapping.capacitance_f / mapping.time_scale_s
        self.current_per_rate = self.conductance_per_rate * mapping.voltage_scale_v
        self.sides = {}

    def add(self, kind, pos, neg, value, term, **extra):
        _add_component(self.graph, self.counter, kind, pos, neg, value, term, **extra)

    def add_nodes(self):
        initial = self.npde.initial_state()
        source = self.npde.source_state()
        fields = self.npde.fields
        indices = list(self.npde.grid.indices()) * len(fields)
        # NPDE.n_nodes sums the grid's active mask on every call, so it is read once here.
        n_nodes = self.npde.n_nodes
        for k, name in enumerate(self.names):
            self.graph.add_node(name, kind="state", index=indices[k], field=fields[k // n_nodes])
            self.add("capacitor", name, GROUND, self.mapping.capacitance_f, "node_capacitance",
                     ic=self.mapping.to_volts(initial[k]))
            if source[k] != 0.0:
                self.add("isource", GROUND, name, self.current_per_rate * source[k], "source")

    def side_net(self, side):
        net = f"b_{side}"
        if net not in self.sides:
            self.graph.add_node(net, kind="boundary", side=side)
            value = self.mapping.to_volts(self.npde.grid.boundaries[side].value)
            self.add("vsource", net, GROUND, value, "dirichlet")
            self.sides[net] = value
        return net

    def add_linear(self, term):
        matrix, ghosts = self.npde.term_operator(term)
        matrix = matrix.tocoo()
        scale = max(np.abs(matrix.data).max(initial=0.0),
                    max((abs(w) for _, _, w in ghosts), default=0.0))
        entries = {(i, j): w for i, j, w in zip(matrix.row, matrix.col, matrix.data) if w != 0}
        consumed = np.zeros(self.npde.n_state)
        same_field = term.target == term.source
        for (i, j), w in sorted(entries.items()):
            if i == j:
                continue
            if same_field and w > 0 and entries.get((j, i)) == w:
                if i < j:
                    self.add("resistor", self.names[i], self.names[j],
                             1 / (self.conductance_per_rate * w), term.label)
                consumed[i] += w
            else:
                self.add_vccs(i, j, w, term.label)
        for row, side, w in ghosts:
            if same_field and w > 0:
                self.add("resistor", self.names[row], self.side_net(side),
                         1 / (self.conductance_per_rate * w), term.label)
                consumed[row] += w
            elif self.npde.grid.boundaries[side].value != 0.0:
                current = self.current_per_rate * w * self.npde.grid.boundaries[side].value
                self.add("isource", GROUND, self.names[row], current, term.label)
        diagonal = np.zeros(self.npde.n_state)
        for (i, j), w in entries.items():
            if i == j:
                diagonal[i] += w
        self.add_self_rates(diagonal + consumed, scale, term.label)

    def add_vccs(self, row, column, rate, label):
        # Current flows from pos through the source into neg, so pos = ground injects
        # C w / a * V(column) into the row's node.
        self.add("vccs", GROUND, self.names[row], self.conductance_per_rate * rate, label,
                 ctrl_pos=self.names[column], ctrl_neg=GROUND)

    def add_self_rates(self, residual, scale, label):
        for i, rate in enumerate(residual):
            if abs(rate) <= _RELATIVE_ZERO * scale:
                continue
            if rate < 0:
                self.add("resistor", self.names[i], GROUND,
                         1 / (self.conductance_per_rate * -rate), label)
            else:
                self.add_vccs(i, i, rate, label)

    def add_reaction(self, term):
        npde, v = self.npde, self.mapping.voltage_scale_v
        fields = list(term.expression.fields)
        targets = self.names[npde.field_slice(term.target)]
        columns = {f: self.names[npde.field_slice(f)] for f in fields}
        torch_function = term.expression.to_torch()
        gain = self.current_per_rate
        n = npde.n_nodes

        def currents(x):
            values = {f: x[k * n:(k + 1) * n] / v for k, f in enumerate(fields)}
            return gain * torch_function(values)

        inputs = [name for f in fields for name in columns[f]]
        group = BehaviouralGroup(term.label, inputs, currents)
        for k, node in enumerate(targets):
            text = term.expression.to_spice({f: f"v({columns[f][k]})" for f in fields},
                                            input_scale=v, output_scale=gain)
            self.add("bsource", GROUND, node, 0.0, term.label, expression=text, group=group,
                     slot=k)

    def add_nonlocal(self, term):
        v = self.mapping.voltage_scale_v
        rows = np.flatnonzero(term.rows)
        if term.activation == "identity":
            self.add_linear_nonlocal(term, rows)
            return
        function = activation_torch(term.activation)
        weight = torch.as_tensor(term.weight[rows], dtype=torch.float64) / v
        bias = torch.as_tensor(term.bias[rows], dtype=torch.float64)
        gain = self.current_per_rate
        group = BehaviouralGroup(term.label, list(self.names),
                                 lambda x: gain * function(weight @ x + bias))
        cell = None
        if term.activation == "tanh" and self.mapping.tanh_cell == "bjt":
            from npdehw.hw.cells import TanhCell

            cell = TanhCell(i_tail_a=gain, gain_per_volt=1.0, name="tanh_bjt")
        for slot, i in enumerate(rows):
            argument = _weighted_sum(term.weight[i] / v, self.names, term.bias[i])
            text = f"{format_value(gain)}*{_SPICE_ACTIVATION[term.activation].format(x=argument)}"
            extra = {} if cell is None else {"cell": cell, "argument": argument}
            self.add("bsource", GROUND, self.names[i], 0.0, term.label, expression=text,
                     group=group, slot=slot, **extra)

    def add_linear_nonlocal(self, term, rows):
        for i, j in itertools.product(rows, range(self.npde.n_state)):
            weight = term.weight[i, j]
            if weight == 0.0:
                continue
            if i == j and weight < 0:
                self.add("resistor", self.names[i], GROUND,
                         1 / (self.conductance_per_rate * -weight), term.label)
            else:
                self.add_vccs(i, j, weight, term.label)
        for i in rows:
            if term.bias[i] != 0.0:
                self.add("isource", GROUND, self.names[i], self.current_per_rate * term.bias[i],
                         term.label)


def _weighted_sum(weights, names, bias) -> str:
    parts = [f"{format_value(w)}*v({name})" for w, name in zip(weights, names) if w != 0.0]
    parts.append(format_value(bias))
    return "+".join(parts)
