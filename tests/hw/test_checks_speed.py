"""The sparse connectivity checks name the same node as a plain networkx search."""

import networkx as nx
import numpy as np
import pytest

from npdehw.errors import CircuitError
from npdehw.hw.checks import check_circuit


def reference_error(graph: nx.MultiGraph, needs_operating_point: bool) -> str | None:
    """Return the message check_circuit should raise, found by networkx searches."""
    touching = nx.Graph()
    touching.add_nodes_from(graph.nodes)
    touching.add_edges_from((u, v) for u, v in graph.edges())
    reached = nx.node_connected_component(touching, "0")
    for node in graph.nodes:
        if node not in reached:
            return f"node {node} has no path to ground; connect it to the circuit"

    links = nx.Graph()
    links.add_nodes_from(graph.nodes)
    for u, v, data in graph.edges(data=True):
        links.add_edge(u, v)
        out = data["pos"] if data["pos"] != "0" else data["neg"]
        for control in data.get("controls", ()):
            links.add_edge(control, out)
    links.remove_node("0")
    groups = sorted(nx.connected_components(links), key=len, reverse=True)
    if len(groups) > 1:
        return (f"node {min(groups[1])} has no connection to the rest of the circuit "
                f"({len(groups) - 1} separate group(s) of nodes); connect it or remove it")

    if needs_operating_point:
        resistive = nx.Graph()
        resistive.add_nodes_from(graph.nodes)
        resistive.add_edges_from((u, v) for u, v, kind in graph.edges(data="kind")
                                 if kind in ("resistor", "vsource", "vcvs", "bvsource"))
        reached = nx.node_connected_component(resistive, "0")
        for node in graph.nodes:
            if node not in reached:
                return (f"node {node} has no resistive path to ground, so the DC operating "
                        "point is singular; add a resistor to ground or start the transient "
                        "with uic")
    return None


def random_circuit(rng: np.random.Generator) -> nx.MultiGraph:
    """Return a circuit of resistors, capacitors, transconductances and B sources.

    The edges often leave nodes without a path to ground or split the nodes into
    separate groups, some of equal size, and can tie a group to the rest only
    through a control input.
    """
    count = int(rng.integers(2, 14))
    nodes = [f"n_{k}" for k in rng.permutation(count)]
    graph = nx.MultiGraph()
    graph.add_node("0")
    graph.add_nodes_from(nodes)
    for k in range(int(rng.integers(1, 3 * count))):
        kind = rng.choice(["resistor", "capacitor", "vccs", "bsource"], p=[0.5, 0.3, 0.1, 0.1])
        pos = str(rng.choice(nodes))
        neg = str(rng.choice(nodes + ["0"] * count))
        if pos == neg:
            continue
        data = {"kind": str(kind), "pos": pos, "neg": neg, "value": 1e3}
        if kind == "vccs":
            data["ctrl_pos"], data["ctrl_neg"] = str(rng.choice(nodes)), "0"
            data["controls"] = (data["ctrl_pos"],)
        elif kind == "bsource":
            read = sorted({str(rng.choice(nodes)) for _ in range(2)})
            data["expression"] = " + ".join(f"v({node})" for node in read)
            data["controls"] = tuple(read)
        graph.add_edge(pos, neg, key=f"e{k}", **data)
    return graph


def raised_message(graph: nx.MultiGraph, needs_operating_point: bool) -> str | None:
    try:
        check_circuit(graph, needs_operating_point=needs_operating_point)
    except CircuitError as err:
        return str(err)
    return None


@pytest.mark.parametrize("needs_operating_point", [False, True])
def test_random_circuits_match_networkx(rng, needs_operating_point):
    """On 400 random circuits the checks pass or fail exactly as the networkx reference."""
    outcomes = {"passed": 0, "no path": 0, "separate": 0, "resistive": 0}
    for _ in range(400):
        graph = random_circuit(rng)
        expected = reference_error(graph, needs_operating_point)
        assert raised_message(graph, needs_operating_point) == expected
        if expected is None:
            outcomes["passed"] += 1
        else:
            label = next(key for key in ("no path", "separate", "resistive") if key in expected)
            outcomes[label] += 1
    assert outcomes["passed"] > 10
    assert outcomes["no path"] > 10
    assert outcomes["separate"] > 10
    if needs_operating_point:
        assert outcomes["resistive"] > 10


def test_equal_groups_name_second_group():
    """Of two equal groups besides the largest, the one whose first node comes first is named."""
    graph = nx.MultiGraph()
    graph.add_node("0")
    chains = [["n_c1", "n_c2", "n_c3"], ["n_b1", "n_b2"], ["n_a1", "n_a2"]]
    for chain in chains:
        for k, node in enumerate(chain):
            graph.add_edge(node, "0", key=f"c_{node}", kind="capacitor", value=1e-9,
                           pos=node, neg="0", ic=0.0)
            if k:
                graph.add_edge(chain[k - 1], node, key=f"r_{node}", kind="resistor",
                               value=1e3, pos=chain[k - 1], neg=node)
    with pytest.raises(CircuitError, match=r"node n_b1 has no connection .*\(2 separate"):
        check_circuit(graph)


def test_control_input_alone_connects_group():
    """A group read only by a transconductance's control input is connected to the rest."""
    graph = nx.MultiGraph()
    graph.add_node("0")
    for node in ("n_1", "n_2"):
        graph.add_edge(node, "0", key=f"c_{node}", kind="capacitor", value=1e-9, pos=node,
                       neg="0", ic=0.0)
    graph.add_edge("n_1", "0", key="g1", kind="vccs", value=1e-3, pos="n_1", neg="0",
                   ctrl_pos="n_2", ctrl_neg="0")
    check_circuit(graph)
    graph.remove_edge("n_1", "0", key="g1")
    with pytest.raises(CircuitError, match="node n_2 has no connection"):
        check_circuit(graph)

