"""The twin on small circuits with closed-form solutions."""

import networkx as nx
import numpy as np
import pytest

from npdehw.sim.twin import assemble, run_twin


def circuit(edges):
    graph = nx.MultiGraph()
    graph.add_node("0")
    for key, kind, pos, neg, value, extra in edges:
        graph.add_edge(pos, neg, key=key, kind=kind, pos=pos, neg=neg, value=value,
                       designator=key, **extra)
    return graph


def test_rc_discharge():
    """One RC node decays as exp(-t / RC)."""
    graph = circuit([("r1", "resistor", "n_1", "0", 1e3, {}),
                     ("c1", "capacitor", "n_1", "0", 1e-6, {"ic": 2.0})])
    result = run_twin(graph, stop_s=3e-3, n_steps=3000, save_every=300)
    np.testing.assert_allclose(result.voltages[:, 0], 2.0 * np.exp(-result.time_s / 1e-3),
                               rtol=1e-6)


def test_current_source_into_node_settles_at_ir():
    """A source from ground into the node charges it to I R (SPICE current direction)."""
    graph = circuit([("r1", "resistor", "n_1", "0", 2e3, {}),
                     ("c1", "capacitor", "n_1", "0", 1e-9, {"ic": 0.0}),
                     ("i1", "isource", "0", "n_1", 1e-3, {})])
    result = run_twin(graph, stop_s=1e-4, n_steps=500, save_every=500,
                      method="backward_euler")
    assert result.voltages[-1, 0] == pytest.approx(2.0, rel=1e-9)


def test_voltage_divider_through_driven_net():
    """A node between a 3 V source net and ground via equal resistors settles at 1.5 V."""
    graph = circuit([("v1", "vsource", "b_x_low", "0", 3.0, {}),
                     ("r1", "resistor", "n_1", "b_x_low", 1e3, {}),
                     ("r2", "resistor", "n_1", "0", 1e3, {}),
                     ("c1", "capacitor", "n_1", "0", 1e-9, {"ic": 0.0})])
    system = assemble(graph)
    assert system.nodes == ["n_1"]
    result = run_twin(graph, stop_s=1e-4, n_steps=200, save_every=200,
                      method="backward_euler")
    assert result.voltages[-1, 0] == pytest.approx(1.5, rel=1e-9)
