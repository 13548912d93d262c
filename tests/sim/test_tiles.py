"""SPICE verification in tiles: geometry, halo waveforms and stitched tiles in real ngspice."""

import networkx as nx
import numpy as np
import pytest

from npdehw.design import load_design
from npdehw.errors import CircuitError
from npdehw.hw.graph import GROUND
from npdehw.hw.netlist import write_netlist
from npdehw.pipeline import map_design
from npdehw.sim.compare import error_metrics, resample
from npdehw.sim.ngspice import run_netlist
from npdehw.sim.tile_circuit import TiledGrid
from npdehw.sim.tile_halo import shared_breakpoints
from npdehw.sim.tiles import simulate_tile, verify_in_tiles
from npdehw.sim.twin import assemble, run_twin

# Twin against monolithic ngspice on this grid is 7e-6 relative L2, set by the twin's
# 200 trapezoidal steps. The stitched tiles measured 1.3e-5 against ngspice and 1.9e-5
# against the twin.
TILE_TOLERANCE = 5e-5




@pytest.fixture(scope="module")
def grid24(grid_design):
    """The 24 x 24 design's circuit graph, analysis and monolithic netlist."""
    path = grid_design("tiles24", 24)
    graph, analysis, netlist = map_design(load_design(path))
    return graph, analysis, netlist


def test_split_covers_grid_once(grid24):
    """Blocks partition the grid, and overlap widens the simulated region up to the edges."""
    graph, _, _ = grid24
    tiles = TiledGrid(graph).split((3, 2), overlap=2)
    owned = [node for tile in tiles for node in tile.owned]
    assert len(tiles) == 6
    assert sorted(owned) == sorted(n for n, kind in graph.nodes(data="kind") if kind == "state")
    assert tiles[0].block == ((0, 8), (0, 12))
    assert tiles[0].region == ((0, 10), (0, 14))
    assert tiles[4].region == ((14, 24), (0, 14))
    assert len(tiles[2].simulated) == 12 * 14


def test_tile_counts_bound_block_size(grid24):
    """Blocks of at most 144 indices need 2 x 2 tiles on 24 x 24, 100 need 3 x 3."""
    grid = TiledGrid(grid24[0])
    assert grid.counts(144) == (2, 2)
    assert grid.counts(100) == (3, 3)
    assert grid.counts(10_000) == (1, 1)
    largest = max(len(tile.owned) for tile in grid.split(grid.counts(100)))
    assert largest <= 100


def test_split_rejects_bad_tilings(grid24):
    """Wrong axis counts, more tiles than nodes and negative overlap raise ValueError."""
    grid = TiledGrid(grid24[0])
    with pytest.raises(ValueError, match="axes"):
        grid.split((2,))
    with pytest.raises(ValueError, match="1 to n parts"):
        grid.split((25, 1))
    with pytest.raises(ValueError, match="overlap"):
        grid.split((2, 2), overlap=-1)


def test_tile_circuit_drives_halo_and_keeps_sides(grid24):
    """A corner tile gets one PWL source per neighbour node and the x_low side's source."""
    graph, analysis, _ = grid24
    grid = TiledGrid(graph)
    tile = grid.split((2, 2))[0]
    requested = []

    def drive(halo):
        requested.extend(halo)
        return {node: [(0.0, 0.1), (analysis.stop_s, 0.2)] for node in halo}

    tiled = grid.circuit(tile, drive)
    halo = sorted(f"n_{i}_12" for i in range(12)) + sorted(f"n_12_{j}" for j in range(12))
    assert sorted(requested) == sorted(halo)
    sources = {key: data for _, _, key, data in tiled.edges(keys=True, data=True)
               if data["kind"] == "vsource"}
    assert sorted(k for k in sources if k.startswith("vhalo_")) == sorted("vhalo_" + n
                                                                          for n in halo)
    assert sources["vhalo_n_0_12"]["waveform"] == [(0.0, 0.1), (analysis.stop_s, 0.2)]
    assert "b_x_low" in tiled
    assert "b_x_high" not in tiled
    assert "pwl(" in write_netlist(tiled, analysis, title="tile0")


def test_tile_circuit_rejects_untileable_net():
    """A net that is neither a grid node nor a driven net cannot become a halo source."""
    graph = nx.MultiGraph()
    graph.add_node(GROUND, kind="ground")
    graph.add_node("n_0", kind="state", index=(0,))
    graph.add_node("n_1", kind="state", index=(1,))
    graph.add_node("mid", kind="internal")
    for node in ("n_0", "n_1"):
        graph.add_edge(node, GROUND, key=f"c{node}", kind="capacitor", value=1e-9, pos=node,
                       neg=GROUND, term="node_capacitance", designator=f"c{node}")
    graph.add_edge("n_0", "mid", key="r1", kind="resistor", value=1e3, pos="n_0", neg="mid",
                   term="diffusion", designator="r1")
    grid = TiledGrid(graph)
    with pytest.raises(CircuitError, match="mid"):
        grid.circuit(grid.split((2,))[0], lambda halo: {})


def test_shared_breakpoints_bound_the_deviation(rng):
    """Every waveform stays within the tolerance, and a straight line keeps only its ends."""
    time_s = np.linspace(0.0, 1.0, 401)
    rates = rng.uniform(1.0, 6.0, 5)
    volts = np.exp(-np.outer(time_s, rates)) * np.cos(np.outer(time_s, rates))
    tolerance = 1e-4
    corners = shared_breakpoints(time_s, volts, tolerance)
    assert corners[0] == 0
    assert corners[-1] == 400
    assert 10 < len(corners) < 200
    for column in volts.T:
        rebuilt = np.interp(time_s, time_s[corners], column[corners])
        assert np.max(np.abs(rebuilt - column)) <= tolerance * (1 + 1e-9)
    line = shared_breakpoints(time_s, (3 * time_s - 1)[:, None], 1e-12)
    assert list(line) == [0, 400]
    assert len(shared_breakpoints(time_s, volts, 0.0)) == 401


@pytest.mark.spice
def test_tiles_on_dask_agree_with_monolithic_ngspice(grid24):
    """2 x 2 tiles on two Dask workers match one ngspice run of the whole grid and the twin."""
    graph, analysis, netlist = grid24
    report = verify_in_tiles(graph, analysis, (2, 2), twin_steps=200, workers=2)
    whole = run_netlist(netlist)
    monolithic = resample(whole, report.nodes, report.time_s, assemble(graph).initial_v)
    against_spice = error_metrics(report.spice_v, monolithic)
    assert against_spice["relative_l2"] < TILE_TOLERANCE
    assert report.metrics["relative_l2"] < TILE_TOLERANCE
    assert max(row["relative_l2"] for row in report.per_tile) < 2 * TILE_TOLERANCE
    assert [row["halo"] for row in report.per_tile] == [24, 24, 24, 24]
    assert sum(row["owned"] for row in report.per_tile) == 24 * 24
    assert report.options["workers"] == 2


@pytest.mark.spice
def test_wrong_tile_resistor_shows_in_agreement(grid24):
    """One resistor 10 % off inside a tile moves that tile past twice the tolerance (1.9e-4)."""
    graph, analysis, _ = grid24
    twin = run_twin(graph, stop_s=analysis.stop_s, n_steps=200, save_every=1)
    column = {node: k for k, node in enumerate(twin.nodes)}
    tile = TiledGrid(graph).split((2, 2))[1]
    wrong = graph.copy()
    for u, v, key, data in wrong.edges(keys=True, data=True):
        if {u, v} == {"n_9_14", "n_9_15"}:
            data["value"] *= 1.1

    def drive(halo):
        return {node: list(zip(twin.time_s, twin.voltages[:, column[node]])) for node in halo}

    times = twin.time_s[::20]
    columns = [column[node] for node in tile.owned]
    errors = []
    for circuit in (graph, wrong):
        text = write_netlist(TiledGrid(circuit).circuit(tile, drive), analysis, title="tile1")
        result = simulate_tile(text, tile.owned, times, twin.voltages[0, columns])
        errors.append(error_metrics(result["voltages"], twin.voltages[::20, columns]))
    assert errors[0]["relative_l2"] < TILE_TOLERANCE
    assert errors[1]["relative_l2"] > 2 * TILE_TOLERANCE
