"""Many input samples through one netlist: piecewise-linear sources that step through them.

Sample ``k`` is held from ``k * hold_s`` to ``(k + 1) * hold_s``, with a linear edge of
``edge_s`` at the start of each hold, and is read at the middle of its hold. A circuit
without capacitors settles at once, so each read is the DC solution for that sample.
"""

from __future__ import annotations

import numpy as np

from npdehw.hw.netlist import TransientAnalysis
from npdehw.sim.ngspice import SpiceResult

__all__ = ["batch_analysis", "pwl_points", "read_samples", "sample_times"]


def pwl_points(values: np.ndarray, hold_s: float, edge_s: float) -> list[tuple[float, float]]:
    """Return the PWL points ``(time_s, value)`` that hold each of ``values`` in turn."""
    points = [(0.0, float(values[0]))]
    for k, value in enumerate(values):
        start = k * hold_s
        if k > 0:
            points.append((start + edge_s, float(value)))
        points.append(((k + 1) * hold_s, float(value)))
    return points


def sample_times(n_samples: int, hold_s: float, edge_s: float) -> np.ndarray:
    """Return the read time of each sample: the middle of its settled hold."""
    return np.arange(n_samples) * hold_s + 0.5 * (hold_s + edge_s)


def batch_analysis(n_samples: int, hold_s: float) -> TransientAnalysis:
    """Return a transient analysis that covers ``n_samples`` holds."""
    return TransientAnalysis(step_s=hold_s, stop_s=n_samples * hold_s, max_step_s=hold_s / 4)


def read_samples(result: SpiceResult, names: list[str], times: np.ndarray, *,
                 currents: bool = False) -> np.ndarray:
    """Return node voltages (or source currents) at ``times``, shape ``(n_times, n_names)``."""
    table = result.currents if currents else result.voltages
    missing = [name for name in names if name not in table]
    if missing:
        raise KeyError(f"ngspice returned no vector for {missing[:5]}")
    return np.stack([np.interp(times, result.time_s, table[name]) for name in names], axis=1)
