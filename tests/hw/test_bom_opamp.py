"""Op-amp macro models appear in the bill of materials as op-amps with their gain."""

import networkx as nx
import numpy as np

from npdehw.hw.bom import bill_of_materials
from npdehw.hw.crossbar_circuit import Readout, add_crossbar_tile
from npdehw.hw.graph import _Designators


def test_tia_readout_lists_one_opamp_per_column():
    graph = nx.MultiGraph()
    conductance = np.full((3, 4), 1e-5)
    add_crossbar_tile(graph, _Designators(), conductance, ["in0", "in1", "in2"], prefix="t",
                      readout=Readout(kind="tia", opamp_gain=2e5))
    rows = [row for row in bill_of_materials(graph) if row["kind"] == "opamp"]
    assert len(rows) == 1
    assert rows[0]["quantity"] == 4
    assert rows[0]["value"] == "200000"
    assert rows[0]["unit"] == "V/V"
