"""Simulators: ngspice through PySpice, the torch twin, and their comparison."""

from npdehw.sim.compare import error_metrics, per_probe_metrics, resample
from npdehw.sim.ngspice import SpiceResult, ngspice_version, run_netlist
from npdehw.sim.twin import CircuitSystem, TwinResult, assemble, run_twin

__all__ = [
    "CircuitSystem",
    "SpiceResult",
    "TwinResult",
    "assemble",
    "error_metrics",
    "ngspice_version",
    "per_probe_metrics",
    "resample",
    "run_netlist",
    "run_twin",
]
