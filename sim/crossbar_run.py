"""Batches of inputs through a crossbar network: in ngspice and in the DC twin.

Both return the last layer's pre-activations ``z`` (one volt per weight unit) with
shape ``(n_samples, n_out)``. ngspice runs one netlist whose input sources step
through the samples (``npdehw.sim.batch``); the twin solves each tile's resistive
network at DC for all samples at once (``npdehw.sim.dc``) and applies the same
difference stage and activation cells.
"""

from __future__ import annotations

import time

import networkx as nx
import numpy as np

from npdehw.hw.crossbar_network import BIAS_NET, CrossbarNetwork
from npdehw.hw.graph import GROUND, _add_component, _Designators
from npdehw.hw.netlist import write_netlist
from npdehw.sim.batch import batch_analysis, pwl_points, read_samples, sample_times
from npdehw.sim.dc import solve_dc
from npdehw.sim.ngspice import run_netlist

__all__ = ["HOLD_S", "crossbar_netlist", "run_crossbar_spice", "run_crossbar_twin"]

HOLD_S, EDGE_S = 1e-6, 1e-8
_ACTIVATIONS = {"identity": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
                "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def crossbar_netlist(network: CrossbarNetwork, inputs: np.ndarray, title: str) -> str:
    """Return the netlist with piecewise-linear input sources stepping through ``inputs``."""
    graph = network.graph.copy()
    counter = _Designators()
    counter._counts["v"] = sum(1 for _, _, k in graph.edges(keys=True) if k.startswith("v"))
    for i, net in enumerate(network.input_nets):
        _add_component(graph, counter, "vsource", net, GROUND, 0.0, "input",
                       waveform=pwl_points(network.read_v * inputs[:, i], HOLD_S, EDGE_S))
    return write_netlist(graph, batch_analysis(len(inputs), HOLD_S), title=title)


def run_crossbar_spice(network: CrossbarNetwork, inputs: np.ndarray, title: str = "crossbar"):
    """Return ``(z, seconds)``: the last layer's outputs in ngspice and the run time."""
    inputs = np.asarray(inputs, dtype=float)
    start = time.perf_counter()
    result = run_netlist(crossbar_netlist(network, inputs, title))
    elapsed = time.perf_counter() - start
    times = sample_times(len(inputs), HOLD_S, EDGE_S)
    return read_samples(result, network.layers[-1].z_nets, times), elapsed


def _tile_graph(network, keys, row_nets, drives, n_samples):
    graph = nx.MultiGraph()
    graph.add_node(GROUND)
    for u, v, key in keys:
        graph.add_edge(u, v, key=key, **network.graph.edges[u, v, key])
    sources = {}
    for k, net in enumerate(row_nets):
        designator = f"vdrive{k}"
        graph.add_edge(net, GROUND, key=designator, kind="vsource", value=0.0, pos=net,
                       neg=GROUND, term="drive", designator=designator)
        sources[designator] = np.broadcast_to(drives[net], (n_samples,))
    return graph, sources


def _read_noise(layer, drives, row_nets, tile, relative, rng, n_samples):
    """Return column-current noise of one tile: each device read with relative noise.

    Independent Gaussian conductance noise of relative size ``relative`` on every device
    adds to column ``j`` a Gaussian current of standard deviation
    ``relative * sqrt(sum_i (V_i G_ij)^2)``.
    NOTE: exact for column currents at virtual ground without wire resistance; with
    wire resistance the row voltages seen by the devices are slightly lower.
    """
    voltages = np.stack([np.broadcast_to(drives[net], (n_samples,)) for net in row_nets],
                        axis=1)
    conductance = layer.conductance_s[tile.rows, tile.columns]
    spread = relative * np.sqrt((voltages**2) @ (conductance**2))
    return spread * rng.standard_normal(spread.shape)


def run_crossbar_twin(network: CrossbarNetwork, inputs: np.ndarray, *, read_noise_seed=None):
    """Return ``(z, seconds)``: the last layer's outputs from the DC twin.

    With ``read_noise_seed`` set and a device with ``read_noise``, every read adds the
    device read noise (twin only: ngspice has no noise in a transient run).
    """
    inputs = np.asarray(inputs, dtype=float)
    start = time.perf_counter()
    relative = network.device.read_noise if network.device is not None else 0.0
    rng = np.random.default_rng(read_noise_seed) if read_noise_seed is not None else None
    n_samples = len(inputs)
    drives = {net: network.read_v * inputs[:, i] for i, net in enumerate(network.input_nets)}
    drives[BIAS_NET] = np.full(n_samples, network.read_v)
    for number, layer in enumerate(network.layers):
        signals = np.zeros((n_samples, layer.mapping.n_columns))
        for tile, circuit, row_nets, keys in layer.tiles:
            graph, sources = _tile_graph(network, keys, row_nets, drives, n_samples)
            solution = solve_dc(graph, sources, n_samples)
            if network.readout.kind == "ideal":
                columns = np.stack([solution.currents[a] for a in circuit.ammeters], axis=1)
            else:
                columns = np.stack([solution.voltages[o] for o in circuit.outputs], axis=1)
            if rng is not None and relative > 0:
                noise = _read_noise(layer, drives, row_nets, tile, relative, rng, n_samples)
                gain = 1.0 if network.readout.kind == "ideal" else -network.readout.feedback_ohm
                columns = columns + gain * noise
            signals[:, tile.columns] += columns
        mapping = layer.mapping
        z = layer.factor * (signals[:, mapping.plus_columns] - signals[:, mapping.minus_columns])
        if number == len(network.layers) - 1:
            return z, time.perf_counter() - start
        activated = network.read_v * _ACTIVATIONS[layer.activation](z)
        drives.update({net: activated[:, o] for o, net in enumerate(layer.drive_nets)})
    raise ValueError("the network has no layers")
