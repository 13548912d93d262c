"""A feed-forward network of crossbar layers as one circuit graph.

Each layer maps ``[W | b]`` onto a differential crossbar (``npdehw.hw.crossbar``):
the inputs drive the rows at ``read_v`` volts per unit and one extra row, held at
``read_v``, carries the bias. Tiles (at most 64 x 64 devices by default) are read
column by column (``npdehw.hw.crossbar_circuit``), and a behavioural voltage source
per output forms the pre-activation in volts, one volt per weight unit:

    z_o = sum over tiles of (s[plus column] - s[minus column]) * k

where ``s`` is the column current (ideal readout, ``k = 1 / (scale read_v)``) or the
TIA output voltage (``k = -1 / (R_f scale read_v)``). A hidden layer's activation
cell, another behavioural voltage source ``read_v act(z_o)``, drives the next
layer's rows. The last layer's ``z`` nets hold the network's output.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from npdehw.hw.crossbar import CrossbarMapping, apply_nonidealities, map_weights, tile_mapping
from npdehw.hw.crossbar_circuit import Readout, TileCircuit, add_crossbar_tile
from npdehw.hw.devices import DeviceSpec
from npdehw.hw.graph import GROUND, _add_component, _Designators
from npdehw.hw.netlist import format_value

__all__ = ["ACTIVATION_TEXT", "CrossbarLayer", "CrossbarNetwork", "build_crossbar_network"]

ACTIVATION_TEXT = {"identity": "{x}", "tanh": "tanh({x})", "relu": "max({x},0)",
                   "sigmoid": "1/(1+exp(-({x})))"}
BIAS_NET = "bias_row"


@dataclasses.dataclass
class CrossbarLayer:
    """One mapped layer and where its tiles sit in the graph.

    Attributes:
        mapping: the weight-to-conductance mapping of ``[W | b]``.
        conductance_s: programmed conductances, shape ``(n_in + 1, n_columns)``.
        tiles: ``(CrossbarTile, TileCircuit, row_nets, edge_keys)`` per tile.
        factor: ``k`` of the module docstring.
        activation: the activation after this layer.
        z_nets: pre-activation nets, one per output.
        drive_nets: nets that drive the next layer (activation outputs), or the
            ``z_nets`` for the last layer.
    """

    mapping: CrossbarMapping
    conductance_s: np.ndarray
    tiles: list
    factor: float
    activation: str
    z_nets: list[str]
    drive_nets: list[str]


@dataclasses.dataclass
class CrossbarNetwork:
    """The circuit graph of a crossbar network and its layers."""

    graph: nx.MultiGraph
    layers: list[CrossbarLayer]
    input_nets: list[str]
    read_v: float
    readout: Readout
    wire_ohm: float
    device: DeviceSpec | None = None


def build_crossbar_network(layers, device: DeviceSpec, *, read_v: float = 0.2,
                           wire_ohm: float = 0.0, readout: Readout = Readout(),
                           quantize: bool = True, seed: int | None = 0,
                           max_rows: int = 64, max_cols: int = 64) -> CrossbarNetwork:
    """Return the circuit of ``layers``: a list of ``(W, b, activation)``.

    ``W`` has shape ``(n_out, n_in)``. Programming noise and stuck-at faults of
    ``device`` are drawn with ``seed + layer index``; ``seed=None`` skips them.
    """
    graph = nx.MultiGraph(title="crossbar")
    graph.add_node(GROUND, kind="ground")
    counter = _Designators()
    _add_component(graph, counter, "vsource", BIAS_NET, GROUND, read_v, "bias_row")
    n_inputs = np.asarray(layers[0][0]).shape[1]
    input_nets = [f"x{i}" for i in range(n_inputs)]
    nets, built = input_nets, []
    for number, (weight, bias, activation) in enumerate(layers):
        layer = _build_layer(graph, counter, number, weight, bias, activation, nets, device,
                             read_v=read_v, wire_ohm=wire_ohm, readout=readout,
                             quantize=quantize, seed=seed, limits=(max_rows, max_cols),
                             last=number == len(layers) - 1)
        built.append(layer)
        nets = layer.drive_nets
    return CrossbarNetwork(graph, built, input_nets, read_v, readout, wire_ohm, device)


def _programmed(weight, bias, device, quantize, seed, number):
    augmented = np.hstack([np.asarray(weight, float), np.asarray(bias, float)[:, None]])
    mapping = map_weights(augmented, device, scheme="differential", quantize=quantize)
    conductance = mapping.programmed_s
    if seed is not None:
        conductance = apply_nonidealities(mapping, device, seed + number).conductances_s
    return mapping, conductance


def _build_layer(graph, counter, number, weight, bias, activation, nets, device, *, read_v,
                 wire_ohm, readout, quantize, seed, limits, last):
    if activation not in ACTIVATION_TEXT:
        raise ValueError(f"unknown activation {activation!r}; use one of {list(ACTIVATION_TEXT)}")
    mapping, conductance = _programmed(weight, bias, device, quantize, seed, number)
    row_nets = list(nets) + [BIAS_NET]
    tiles = []
    for k, tile in enumerate(tile_mapping(mapping, *limits)):
        before = set(graph.edges(keys=True))
        circuit = add_crossbar_tile(graph, counter, conductance[tile.rows, tile.columns],
                                    row_nets[tile.rows], prefix=f"l{number}t{k}",
                                    wire_ohm=wire_ohm, readout=readout)
        keys = [key for key in graph.edges(keys=True) if key not in before]
        tiles.append((tile, circuit, row_nets[tile.rows], keys))
    scale = mapping.scale_s_per_weight
    factor = (1 / (scale * read_v) if readout.kind == "ideal"
              else -1 / (readout.feedback_ohm * scale * read_v))
    z_nets = [f"l{number}_z{o}" for o in range(mapping.n_outputs)]
    for o, net in enumerate(z_nets):
        text = _z_expression(tiles, mapping, o, factor, readout)
        _add_component(graph, counter, "bvsource", net, GROUND, 0.0, "difference_stage",
                       expression=text)
    if last:
        return CrossbarLayer(mapping, conductance, tiles, factor, activation, z_nets, z_nets)
    drive_nets = [f"l{number}_a{o}" for o in range(mapping.n_outputs)]
    for z, net in zip(z_nets, drive_nets):
        text = f"{format_value(read_v)}*{ACTIVATION_TEXT[activation].format(x=f'v({z})')}"
        _add_component(graph, counter, "bvsource", net, GROUND, 0.0, "activation_cell",
                       expression=text)
    return CrossbarLayer(mapping, conductance, tiles, factor, activation, z_nets, drive_nets)


def _signal(circuit: TileCircuit, column: int, readout: Readout) -> str:
    if readout.kind == "ideal":
        return f"i({circuit.ammeters[column]})"
    return f"v({circuit.outputs[column]})"


def _z_expression(tiles, mapping, output, factor, readout) -> str:
    terms = []
    for tile, circuit, _, _ in tiles:
        for column, sign in ((mapping.plus_columns[output], "+"),
                             (mapping.minus_columns[output], "-")):
            if tile.column_start <= column < tile.column_stop:
                terms.append(f"{sign}{_signal(circuit, column - tile.column_start, readout)}")
    return f"{format_value(factor)}*(0{''.join(terms)})"
