"""Crossbar matrix-vector products in real ngspice against numpy and the DC twin."""

import networkx as nx
import numpy as np
import pytest

from npdehw.hw.crossbar_circuit import Readout, add_crossbar_tile
from npdehw.hw.graph import GROUND, _Designators
from npdehw.hw.netlist import write_netlist
from npdehw.sim.batch import batch_analysis, pwl_points, read_samples, sample_times
from npdehw.sim.dc import solve_dc
from npdehw.sim.ngspice import run_netlist

HOLD_S, EDGE_S = 1e-6, 1e-8


def crossbar(conductance, inputs, wire_ohm=0.0, readout=Readout()):
    """Return the graph, the row-source designators and the tile readout."""
    graph = nx.MultiGraph()
    graph.add_node(GROUND)
    counter = _Designators()
    rows = [f"in{i}" for i in range(conductance.shape[0])]
    drivers = []
    for i, net in enumerate(rows):
        designator = counter.next("v")
        graph.add_edge(net, GROUND, key=designator, kind="vsource", value=0.0, pos=net,
                       neg=GROUND, term="input", designator=designator,
                       waveform=pwl_points(inputs[:, i], HOLD_S, EDGE_S))
        drivers.append(designator)
    tile = add_crossbar_tile(graph, counter, conductance, rows, prefix="t0",
                             wire_ohm=wire_ohm, readout=readout)
    return graph, drivers, tile


def spice_columns(graph, tile, n_samples):
    result = run_netlist(write_netlist(graph, batch_analysis(n_samples, HOLD_S), title="xbar"))
    times = sample_times(n_samples, HOLD_S, EDGE_S)
    if tile.ammeters:
        return read_samples(result, tile.ammeters, times, currents=True)
    return read_samples(result, tile.outputs, times)


def twin_columns(graph, drivers, tile, inputs):
    sources = {d: inputs[:, i] for i, d in enumerate(drivers)}
    solution = solve_dc(graph, sources, n_samples=len(inputs))
    if tile.ammeters:
        return np.stack([solution.currents[a] for a in tile.ammeters], axis=1)
    return np.stack([solution.voltages[o] for o in tile.outputs], axis=1)


@pytest.mark.parametrize("shape", [(32, 32), (100, 70)])
def test_spice_product_equals_numpy(rng, shape):
    """Column currents in ngspice equal G^T V within 1e-6 relative without wire resistance."""
    conductance = rng.uniform(1e-6, 1e-4, size=shape)
    inputs = rng.uniform(-0.2, 0.2, size=(6, shape[0]))
    graph, _, tile = crossbar(conductance, inputs)
    measured = spice_columns(graph, tile, len(inputs))
    expected = inputs @ conductance
    relative = np.linalg.norm(measured - expected) / np.linalg.norm(expected)
    assert relative < 1e-6


# NOTE: 100 x 70 with wire resistance has 14,000 nodes and takes about 90 s in ngspice
# 39's Sparse 1.3 solver on two cores, so the suite checks smaller arrays.
@pytest.mark.parametrize("shape", [(32, 32), (48, 20)])
def test_wire_resistance_twin_matches_spice(rng, shape):
    """With 2 ohm wire segments the DC twin and ngspice agree within 1e-4 relative."""
    conductance = rng.uniform(1e-6, 1e-4, size=shape)
    inputs = rng.uniform(0.0, 0.2, size=(4, shape[0]))
    graph, drivers, tile = crossbar(conductance, inputs, wire_ohm=2.0)
    measured = spice_columns(graph, tile, len(inputs))
    twin = twin_columns(graph, drivers, tile, inputs)
    assert np.linalg.norm(twin - measured) / np.linalg.norm(measured) < 1e-4
    ideal = inputs @ conductance
    ir_drop = np.linalg.norm(measured - ideal) / np.linalg.norm(ideal)
    assert 1e-4 < ir_drop < 0.5


def test_tia_output_follows_gain_formula(rng):
    """A TIA column gives -R_f I to within its finite-gain error, in ngspice and the twin."""
    conductance = rng.uniform(1e-6, 1e-4, size=(16, 8))
    inputs = rng.uniform(-0.2, 0.2, size=(3, 16))
    readout = Readout(kind="tia", opamp_gain=1e5, feedback_ohm=1e4)
    graph, drivers, tile = crossbar(conductance, inputs, readout=readout)
    measured = spice_columns(graph, tile, len(inputs))
    twin = twin_columns(graph, drivers, tile, inputs)
    np.testing.assert_allclose(twin, measured, rtol=1e-6, atol=1e-12)
    source_ohm = 1 / conductance.sum(axis=0)
    loop = 1 + (1 + 1e4 / source_ohm) / 1e5
    np.testing.assert_allclose(measured, -1e4 * (inputs @ conductance) / loop, rtol=1e-6)
