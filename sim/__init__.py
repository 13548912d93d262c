"""Simulators: ngspice through PySpice, the torch twin, and their comparison.

The names below load their module on first use (PEP 562), so importing a submodule
such as ``npdehw.sim.ngspice`` does not import torch through ``npdehw.sim.twin``.
"""

from __future__ import annotations

import importlib

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

_MODULE_OF = {
    "CircuitSystem": "twin",
    "SpiceResult": "ngspice",
    "TwinResult": "twin",
    "assemble": "twin",
    "error_metrics": "compare",
    "ngspice_version": "ngspice",
    "per_probe_metrics": "compare",
    "resample": "compare",
    "run_netlist": "ngspice",
    "run_twin": "twin",
}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
