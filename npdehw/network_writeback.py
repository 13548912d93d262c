"""Trained crossbar conductances written back onto the circuit, with their provenance.

Every trained network (QAT at each level count, physics-aware training) is built as a
circuit on the same level set as the post-training-quantized (PTQ) network it started
from. ``write_back`` then copies the PTQ circuit with each device's trained resistance
(ohms, ``1 / G``), recording which parameter it came from (``<network>.matrices.<layer>``,
the augmented ``[W | b]`` of that layer) and the epoch whose parameters were kept.
"""

from __future__ import annotations

from npdehw.hw.crossbar import programming_table_csv, tile_mapping
from npdehw.hw.writeback import provenance_csv, write_back
from npdehw.network_qat import crossbar_for

__all__ = ["trained_graph", "trained_levels",
           "trained_parameters_csv", "trained_programming_table"]


def trained_levels(design, name: str) -> int:
    """Return the level count a trained network ``name`` was trained for."""
    if name.startswith("qat_"):
        return int(name.removeprefix("qat_"))
    return design.device.levels


def _device_values(network, number: int) -> dict[str, float]:
    values = {}
    for _, _, _, keys in network.layers[number].tiles:
        for u, v, key in keys:
            data = network.graph.edges[u, v, key]
            if data["term"] == "crossbar_device":
                values[key] = data["value"]
    return values


def trained_graph(design, name: str, start_layers, trained_layers, best_epoch: int):
    """Return the PTQ circuit of ``start_layers`` with the devices of ``trained_layers``."""
    levels = trained_levels(design, name)
    graph = crossbar_for(design, start_layers, levels).graph
    trained = crossbar_for(design, trained_layers, levels)
    for number in range(len(trained.layers)):
        graph = write_back(graph, _device_values(trained, number),
                           f"{name}.matrices.{number}", best_epoch)
    return graph


def trained_parameters_csv(result) -> str:
    """Return the provenance of every trained network's devices, one CSV, ``network`` first."""
    parts = []
    start = result.trained["float"]
    for name, layers in result.trained.items():
        if name == "float":
            continue
        graph = trained_graph(result.design, name, start, layers,
                              result.histories[name].best_epoch)
        lines = provenance_csv(graph).splitlines()
        if not parts:
            parts.append("network," + lines[0])
        parts += [f"{name},{line}" for line in lines[1:]]
    return "\n".join(parts) + "\n"


def trained_programming_table(result, name: str) -> str:
    """Return the programming table of trained network ``name`` with its provenance.

    The columns are those of ``programming_table.csv`` plus ``parameter`` and ``epoch``.
    """
    network = crossbar_for(result.design, result.trained[name],
                                 trained_levels(result.design, name))
    epoch = result.histories[name].best_epoch
    parts = []
    for number, layer in enumerate(network.layers):
        tiles = tile_mapping(layer.mapping, result.design.max_rows, result.design.max_cols)
        lines = programming_table_csv(layer.mapping, tiles).splitlines()
        if number == 0:
            parts.append(f"layer,{lines[0]},parameter,epoch")
        parts += [f"{number},{row},{name}.matrices.{number},{epoch}" for row in lines[1:]]
    return "\n".join(parts) + "\n"
