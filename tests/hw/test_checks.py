"""Circuit checks reject what ngspice would misread or fail on, naming the culprit."""

import networkx as nx
import pytest

from npdehw.errors import CircuitError
from npdehw.hw.checks import check_circuit


def rc(value_r=1e3, value_c=1e-9, node="n_1"):
    graph = nx.MultiGraph()
    graph.add_node("0")
    graph.add_edge(node, "0", key="r1", kind="resistor", value=value_r, pos=node, neg="0")
    graph.add_edge(node, "0", key="c1", kind="capacitor", value=value_c, pos=node, neg="0",
                   ic=1.0)
    return graph


def test_valid_rc_passes():
    """A resistor and capacitor to ground pass every check."""
    check_circuit(rc(), needs_operating_point=True)


@pytest.mark.parametrize("value", [0.0, -5.0, float("nan"), float("inf")])
def test_bad_resistance_rejected(value):
    """Zero, negative and non-finite resistances name the component."""
    with pytest.raises(CircuitError, match="r1"):
        check_circuit(rc(value_r=value))


def test_floating_pair_named():
    """Two nodes joined only to each other have no path to ground; the first is named."""
    graph = rc()
    graph.add_edge("n_2", "n_3", key="r2", kind="resistor", value=1.0, pos="n_2", neg="n_3")
    with pytest.raises(CircuitError, match="n_2 has no path to ground"):
        check_circuit(graph)


def test_island_named():
    """A capacitor node cut off from a larger group of nodes is named."""
    graph = rc()
    graph.add_edge("n_1", "n_2", key="r2", kind="resistor", value=1.0, pos="n_1", neg="n_2")
    graph.add_edge("n_9", "0", key="c2", kind="capacitor", value=1e-9, pos="n_9", neg="0",
                   ic=0.0)
    with pytest.raises(CircuitError, match="n_9 has no connection to the rest"):
        check_circuit(graph)


def test_capacitive_only_path_needs_uic():
    """A node reaching ground only through a capacitor is fine for uic, not for an OP."""
    graph = nx.MultiGraph()
    graph.add_node("0")
    graph.add_edge("n_1", "0", key="c1", kind="capacitor", value=1e-9, pos="n_1", neg="0", ic=0.0)
    check_circuit(graph)
    with pytest.raises(CircuitError, match="n_1 has no resistive path"):
        check_circuit(graph, needs_operating_point=True)


@pytest.mark.parametrize("name", ["N_1", "n 1", "n_1\n.control", "n;1", "1n"])
def test_unsafe_node_name_rejected(name):
    """Node names outside [a-z][a-z0-9_]* are rejected."""
    with pytest.raises(CircuitError, match="alphabet"):
        check_circuit(rc(node=name))
