"""Tiles of a grid circuit: each a block of grid nodes whose neighbours are driven sources.

A tile owns a rectangular block of grid indices (every field at those indices).
It simulates that block widened by ``overlap`` nodes on each side, with every
element attached to a simulated node. Each grid node outside the simulated region
that such an element reaches (a resistor's far end, a transconductance's control
node, a behavioural source's input) is a halo node. In the tile circuit, a halo
node is driven by a piecewise-linear voltage source that replays a given waveform,
normally the twin's trajectory of that node (``npdehw.sim.tile_halo``). Dirichlet
side nets keep their own sources.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import networkx as nx
import numpy as np

from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND

__all__ = ["Tile", "TiledGrid", "halo_nodes"]

HALO_PREFIX = "vhalo_"
_VOLTAGE_READ = re.compile(r"v\(([a-z0-9_]+)\)")
_CURRENT_READ = re.compile(r"i\(([a-z0-9_]+)\)")


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile of a grid circuit.

    Attributes:
        number: position in the list ``TiledGrid.split`` returns.
        block: ``(start, stop)`` of the owned grid indices along each axis.
        region: ``(start, stop)`` of the simulated grid indices along each axis.
        owned: state nodes whose voltages the tile reports.
        simulated: state nodes the tile circuit integrates (``owned`` included).
    """

    number: int
    block: tuple[tuple[int, int], ...]
    region: tuple[tuple[int, int], ...]
    owned: list[str]
    simulated: list[str]


class TiledGrid:
    """A grid circuit, indexed once, that cuts into tiles and builds their circuits.

    Raises:
        CircuitError: when the graph has no grid nodes (kind ``state`` with an
            ``index``).
    """

    def __init__(self, graph: nx.MultiGraph):
        self.graph = graph
        self.indices = {node: tuple(data["index"]) for node, data in graph.nodes(data=True)
                        if data.get("kind") == "state"}
        if not self.indices:
            raise CircuitError("the circuit has no grid nodes (kind 'state' with an index) "
                               "to tile")
        self._names = list(self.indices)
        self._points = np.array([self.indices[node] for node in self._names])
        self.shape = tuple(int(top) + 1 for top in self._points.max(axis=0))
        self._fixed = _fixed_sources(graph)

    def counts(self, max_tile_nodes: int) -> tuple[int, ...]:
        """Return tiles per axis such that no block spans more than ``max_tile_nodes`` indices.

        Each axis is cut into pieces of at most ``floor(max_tile_nodes ** (1 / ndim))``
        indices, so a 100 x 100 grid with ``max_tile_nodes=625`` gives ``(4, 4)``.
        """
        if max_tile_nodes < 1:
            raise ValueError(f"max_tile_nodes must be at least 1, got {max_tile_nodes}")
        side = max(int(math.floor(max_tile_nodes ** (1.0 / len(self.shape)) + 1e-9)), 1)
        return tuple(math.ceil(n / side) for n in self.shape)

    def split(self, tiles: tuple[int, ...], overlap: int = 0) -> list[Tile]:
        """Return the tiles of an even split into ``tiles[a]`` parts along axis ``a``.

        Raises:
            ValueError: when ``tiles`` does not match the grid's number of axes,
                requests more parts than nodes along an axis, or ``overlap`` is
                negative.
        """
        shape = self.shape
        tiles = tuple(int(t) for t in tiles)
        if len(tiles) != len(shape):
            raise ValueError(f"tiles={list(tiles)} gives {len(tiles)} axes, but the grid "
                             f"{list(shape)} has {len(shape)}")
        if any(t < 1 or t > n for t, n in zip(tiles, shape)):
            raise ValueError(f"tiles={list(tiles)} must give 1 to n parts along each axis "
                             f"of the grid {list(shape)}")
        if overlap < 0:
            raise ValueError(f"overlap must be 0 or more grid nodes, got {overlap}")
        bounds = [[(int(part[0]), int(part[-1]) + 1)
                   for part in np.array_split(np.arange(n), t)] for n, t in zip(shape, tiles)]
        result = []
        for block in itertools.product(*bounds):
            region = tuple((max(start - overlap, 0), min(stop + overlap, n))
                           for (start, stop), n in zip(block, shape))
            owned = self._inside(block)
            if owned:
                result.append(Tile(len(result), block, region, owned, self._inside(region)))
        return result

    def _inside(self, bounds) -> list[str]:
        low = np.array([start for start, _ in bounds])
        high = np.array([stop for _, stop in bounds])
        mask = np.all((self._points >= low) & (self._points < high), axis=1)
        return [self._names[k] for k in np.flatnonzero(mask)]

    def circuit(self, tile: Tile, drive) -> nx.MultiGraph:
        """Return the tile's circuit with its halo nodes driven by PWL voltage sources.

        ``drive`` is called once with the sorted list of halo nodes and returns, for
        each, its ``(time_s, volts)`` points.

        Raises:
            CircuitError: for a net that is neither a grid node, ground nor a net
                driven by a grounded voltage source, and for a halo node that
                ``drive`` leaves out.
        """
        graph = self.graph
        tiled = nx.MultiGraph(title=f"tile{tile.number}")
        tiled.add_node(GROUND, kind="ground")
        tiled.add_nodes_from((node, graph.nodes[node]) for node in tile.simulated)
        reached = set()
        for node in tile.simulated:
            for u, v, key, data in graph.edges(node, keys=True, data=True):
                if not tiled.has_edge(u, v, key):
                    tiled.add_edge(u, v, key=key, **data)
                    reached |= _read_nets(data)
        # add_edge has added the far ends as bare nodes, so each gets its data or source here.
        halo = []
        for net in sorted(reached - set(tile.simulated) - {GROUND}):
            if net in self._fixed:
                tiled.add_node(net, **graph.nodes[net])
                for key, data in self._fixed[net]:
                    tiled.add_edge(data["pos"], data["neg"], key=key, **data)
            elif net in self.indices:
                halo.append(net)
            else:
                raise CircuitError(f"net {net} is neither a grid node nor driven by a "
                                   "grounded voltage source, so it cannot be cut at a tile "
                                   "boundary")
        waveforms = drive(halo) if halo else {}
        for net in halo:
            _add_halo(tiled, net, waveforms)
        return tiled


def _read_nets(data: dict) -> set[str]:
    """Return every net an element connects to or reads."""
    nets = {data["pos"], data["neg"]}
    if data["kind"] in ("vccs", "vcvs"):
        nets |= {data["ctrl_pos"], data["ctrl_neg"]}
    if data["kind"] in ("bsource", "bvsource"):
        if "cell" in data or _CURRENT_READ.search(data["expression"]):
            raise CircuitError(f"behavioural source {data['designator']} uses a transistor "
                               "cell or reads a branch current, but tiles support grid "
                               "circuits whose elements read node voltages only")
        nets |= set(_VOLTAGE_READ.findall(data["expression"]))
        nets |= set(_VOLTAGE_READ.findall(data.get("argument", "")))
    return nets


def _fixed_sources(graph: nx.MultiGraph) -> dict[str, list[tuple[str, dict]]]:
    """Return each net driven by a grounded voltage source, with its source edges."""
    sources = {}
    for _, _, key, data in graph.edges(keys=True, data=True):
        if data["kind"] == "vsource" and GROUND in (data["pos"], data["neg"]):
            net = data["pos"] if data["neg"] == GROUND else data["neg"]
            sources.setdefault(net, []).append((key, data))
    return sources


def _add_halo(tiled: nx.MultiGraph, net: str, waveforms) -> None:
    if net not in waveforms:
        raise CircuitError(f"halo node {net} has no waveform to drive it")
    points = [(float(t), float(v)) for t, v in waveforms[net]]
    key = HALO_PREFIX + net
    tiled.add_node(net, kind="halo")
    tiled.add_edge(net, GROUND, key=key, kind="vsource", value=points[0][1], pos=net,
                   neg=GROUND, term="halo", designator=key, waveform=points)


def halo_nodes(tiled: nx.MultiGraph) -> list[str]:
    """Return the halo nodes of a tile circuit."""
    return [node for node, kind in tiled.nodes(data="kind") if kind == "halo"]
