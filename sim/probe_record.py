"""Probe voltages of one circuit from several initial states, recorded in ngspice.

Each initial state is one transient run started with ``uic``. ngspice's uneven time
points are interpolated linearly onto the requested times (``npdehw.sim.compare``),
so the maximum internal step should be a small fraction of the output interval.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from npdehw.hw.edge_grid import with_initial_voltages
from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.sim.compare import resample
from npdehw.sim.ngspice import run_netlist

__all__ = ["ProbeRecord", "record_probes"]


@dataclasses.dataclass(frozen=True)
class ProbeRecord:
    """Probe voltages in volts, shape ``(n_starts, n_times, n_probes)``, and the run details."""

    voltages: np.ndarray
    time_s: np.ndarray
    probes: list[str]
    elapsed_s: float
    options: dict


def record_probes(graph: nx.MultiGraph, starts: list[dict[str, float]], time_s, probes,
                  analysis: TransientAnalysis, *, title: str) -> ProbeRecord:
    """Run ngspice once per initial state and return the probes at ``time_s``.

    Args:
        starts: node name to initial voltage, one mapping per run.
        time_s: output times in seconds, increasing, up to ``analysis.stop_s``.
        probes: node names to record.
    """
    time_s = np.asarray(time_s, dtype=float)
    runs, elapsed = [], 0.0
    for start in starts:
        circuit = with_initial_voltages(graph, start)
        result = run_netlist(write_netlist(circuit, analysis, title=title))
        elapsed += result.elapsed_s
        initial = np.array([start.get(node, 0.0) for node in probes])
        runs.append(resample(result, list(probes), time_s, initial))
    return ProbeRecord(np.stack(runs), time_s, list(probes), elapsed, analysis.options())
