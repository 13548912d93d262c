"""Trained values land on the named components and keep their origin through rounding."""

import csv
import io

import pytest

from npdehw.design import load_design
from npdehw.hw.builder import build_circuit
from npdehw.hw.rounding import round_to_series
from npdehw.hw.writeback import provenance_csv, write_back


def _circuit():
    design = load_design("heat1d")
    return design, build_circuit(design.npde, design.mapping)


def test_written_values_and_origin_survive_rounding():
    design, graph = _circuit()
    trained = write_back(graph, {"r1": 1234.0, "r2": 2222.0}, "conductance", epoch=17)
    rounded = round_to_series(trained, design.mapping)
    rows = list(csv.DictReader(io.StringIO(provenance_csv(rounded))))
    by_name = {row["designator"]: row for row in rows}
    assert set(by_name) == {"r1", "r2"}
    assert by_name["r1"]["trained_value"] == "1234"
    assert by_name["r1"]["epoch"] == "17"
    # E96 neighbours of 1234 ohm are 1210 and 1240; of 2222 ohm, 2210 and 2260.
    assert by_name["r1"]["built_value"] == "1240"
    assert by_name["r2"]["built_value"] == "2210"


def test_original_graph_is_left_unchanged():
    _, graph = _circuit()
    before = {key: data["value"] for _, _, key, data in graph.edges(keys=True, data=True)}
    write_back(graph, {"r1": 1234.0}, "conductance", epoch=1)
    after = {key: data["value"] for _, _, key, data in graph.edges(keys=True, data=True)}
    assert before == after


def test_unknown_designator_is_named():
    _, graph = _circuit()
    with pytest.raises(KeyError, match="r99999"):
        write_back(graph, {"r99999": 1.0}, "conductance", epoch=1)
