"""A continuous Hopfield network built around a memristor crossbar.

The network is the NPDE ``du/dt = -u + tanh(beta W u)`` with ``W`` the Hebbian matrix
``(1/n) sum_p p p^T`` (zero diagonal) of the stored +-1 patterns. In the circuit:

- each neuron is a node ``h<i>`` with capacitor ``C`` (initial voltage ``v u0``) and a
  resistor ``a / C`` to ground (the decay);
- a behavioural voltage source copies ``read_v u_i`` onto crossbar row ``x<i>`` (a buffer,
  so the crossbar does not load the neuron);
- the crossbar layer (``npdehw.hw.crossbar_network``) forms ``z = W u`` in volts;
- an activation cell, a behavioural current source ``(C v / a) tanh(beta z_j)``, feeds
  neuron ``j``.

Here ``a`` is the time scale in seconds per model time unit and ``v`` the voltage scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from npdehw.hw.crossbar_network import CrossbarNetwork, build_crossbar_network
from npdehw.hw.devices import DeviceSpec
from npdehw.hw.graph import GROUND, _add_component, _Designators
from npdehw.hw.netlist import format_value

__all__ = ["HopfieldCircuit", "build_hopfield_circuit", "hebbian_weights", "neuron_nets"]


def hebbian_weights(patterns: np.ndarray) -> np.ndarray:
    """Return ``(1/n) sum_p p p^T`` with a zero diagonal; ``patterns`` is ``(n_patterns, n)``."""
    patterns = np.asarray(patterns, dtype=float)
    weight = patterns.T @ patterns / patterns.shape[1]
    np.fill_diagonal(weight, 0.0)
    return weight


def neuron_nets(n: int) -> list[str]:
    """Return the neuron node names ``h0``, ``h1``, ..."""
    return [f"h{i}" for i in range(n)]


@dataclasses.dataclass
class HopfieldCircuit:
    """The circuit graph (without a start state) and its crossbar layer."""

    crossbar: CrossbarNetwork
    gain: float
    time_scale_s: float
    voltage_scale_v: float
    capacitance_f: float

    @property
    def graph(self):
        return self.crossbar.graph


def build_hopfield_circuit(weight: np.ndarray, device: DeviceSpec, *, gain: float,
                           initial: np.ndarray, time_scale_s: float = 1e-6,
                           voltage_scale_v: float = 1.0, capacitance_f: float = 1e-9,
                           quantize: bool = True, seed: int | None = None) -> HopfieldCircuit:
    """Return the Hopfield circuit of ``weight`` (n x n) started from ``initial`` (n,)."""
    weight = np.asarray(weight, dtype=float)
    n = weight.shape[0]
    crossbar = build_crossbar_network([(weight, np.zeros(n), "identity")], device,
                                      quantize=quantize, seed=seed)
    graph = crossbar.graph
    counter = _Designators()
    counter._counts = {letter: sum(1 for _, _, k in graph.edges(keys=True) if k[0] == letter)
                       for letter in "rcvib"}
    per_rate = capacitance_f / time_scale_s
    z_nets = crossbar.layers[0].z_nets
    for i, (node, row) in enumerate(zip(neuron_nets(n), crossbar.input_nets)):
        _add_component(graph, counter, "capacitor", node, GROUND, capacitance_f,
                       "node_capacitance", ic=voltage_scale_v * float(initial[i]))
        _add_component(graph, counter, "resistor", node, GROUND, 1 / per_rate, "decay")
        scale = crossbar.read_v / voltage_scale_v
        _add_component(graph, counter, "bvsource", row, GROUND, 0.0, "row_buffer",
                       expression=f"{format_value(scale)}*v({node})")
        current = per_rate * voltage_scale_v
        _add_component(graph, counter, "bsource", GROUND, node, 0.0, "activation_cell",
                       expression=f"{format_value(current)}*tanh({format_value(gain)}*"
                                  f"v({z_nets[i]}))")
    return HopfieldCircuit(crossbar, gain, time_scale_s, voltage_scale_v, capacitance_f)
