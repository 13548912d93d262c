"""Circuit graphs, checks, component series, rounding and exports; no simulators here."""

from npdehw.hw.bom import bill_of_materials, bom_csv
from npdehw.hw.checks import check_circuit
from npdehw.hw.graph import GROUND, build_diffusion_circuit, node_name, state_nodes
from npdehw.hw.mapping import CircuitMapping
from npdehw.hw.netlist import TransientAnalysis, format_value, write_netlist
from npdehw.hw.rounding import round_to_series

__all__ = [
    "GROUND",
    "CircuitMapping",
    "TransientAnalysis",
    "bill_of_materials",
    "bom_csv",
    "build_diffusion_circuit",
    "check_circuit",
    "format_value",
    "node_name",
    "round_to_series",
    "state_nodes",
    "write_netlist",
]
