"""Netlist text: plain exponent numbers, safe names, and values that read back exactly."""

import re

import pytest

from npdehw.hw.graph import build_diffusion_circuit
from npdehw.hw.netlist import TransientAnalysis, format_value, write_netlist

ANALYSIS = TransientAnalysis(step_s=1e-6, stop_s=1e-5, max_step_s=1e-8)
NUMBER = re.compile(r"^[-+]?\d\.\d+e[-+]\d+$")


@pytest.mark.parametrize("value", [1.5e4, 1e-9, 0.0, -2.5, 4700.0, 1e6])
def test_format_is_plain_exponent(value):
    """Values are written as d.ddde+XX and parse back exactly enough."""
    text = format_value(value)
    assert NUMBER.match(text)
    assert float(text) == pytest.approx(value, rel=1e-12)


def test_netlist_structure(heat1d):
    """The netlist ends with .end and a newline, uses uic and has no unit suffixes."""
    graph = build_diffusion_circuit(heat1d.diffusion, heat1d.mapping)
    text = write_netlist(graph, ANALYSIS, title="heat1d", probes=["n_3"])
    assert text.endswith(".end\n")
    assert " uic" in text.splitlines()[-3]
    assert ".print tran v(n_3)" in text
    for line in text.splitlines()[1:]:
        if line[0] in "rc":
            assert NUMBER.match(line.split()[3]), line


def test_netlist_values_read_back(heat1d):
    """Every element value in the netlist equals the graph value to 12 digits."""
    graph = build_diffusion_circuit(heat1d.diffusion, heat1d.mapping)
    text = write_netlist(graph, ANALYSIS, title="heat1d")
    values = {key: data["value"] for _, _, key, data in graph.edges(keys=True, data=True)}
    lines = [line.split() for line in text.splitlines() if line[:1] in ("r", "c")]
    assert len(lines) == sum(1 for k in values if k[0] in "rc")
    for fields in lines:
        assert float(fields[3]) == pytest.approx(values[fields[0]], rel=1e-12)


@pytest.mark.parametrize("title", ["heat\n.control", "a;b", "Heat"])
def test_unsafe_title_rejected(heat1d, title):
    """A title that could inject SPICE text is rejected."""
    graph = build_diffusion_circuit(heat1d.diffusion, heat1d.mapping)
    with pytest.raises(ValueError, match="alphabet"):
        write_netlist(graph, ANALYSIS, title=title)


def test_unknown_probe_rejected(heat1d):
    """A probe that is not a node of the circuit is rejected."""
    graph = build_diffusion_circuit(heat1d.diffusion, heat1d.mapping)
    with pytest.raises(ValueError, match="n_99"):
        write_netlist(graph, ANALYSIS, title="heat1d", probes=["n_99"])
