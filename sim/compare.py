"""Comparison of trajectories on a common time grid.

ngspice picks its own, uneven time points. ``resample`` interpolates them
linearly (``numpy.interp``) onto the twin's output times before any metric is
taken; with the maximum internal step well below the output interval the
interpolation error is below the solver tolerance.
"""

from __future__ import annotations

import numpy as np

from npdehw.sim.ngspice import SpiceResult

__all__ = ["error_metrics", "per_probe_metrics", "resample"]


def resample(result: SpiceResult, nodes: list[str], time_s: np.ndarray,
             initial_v: np.ndarray | None = None) -> np.ndarray:
    """Return the voltages of ``nodes`` at ``time_s``, shape ``(n_times, n_nodes)``.

    ngspice 39 leaves the point t = 0 out of a transient started with ``uic``.
    When ``initial_v`` (the capacitor initial voltages of ``nodes``) is given, it
    is used as the t = 0 point; without it, times before ngspice's first point take
    the value at that point.
    """
    missing = [n for n in nodes if n not in result.voltages]
    if missing:
        raise KeyError(f"ngspice returned no vector for node(s) {missing[:5]}")
    if time_s[-1] > result.time_s[-1] * (1 + 1e-9):
        raise ValueError(f"requested time {time_s[-1]:.6e} s is past the end of the "
                         f"ngspice run at {result.time_s[-1]:.6e} s")
    times = result.time_s
    columns = [result.voltages[n] for n in nodes]
    if initial_v is not None and times[0] > 0:
        times = np.concatenate([[0.0], times])
        columns = [np.concatenate([[v0], column]) for v0, column in zip(initial_v, columns)]
    return np.stack([np.interp(time_s, times, column) for column in columns], axis=1)


def error_metrics(candidate: np.ndarray, reference: np.ndarray) -> dict:
    """Return the relative L2 error and the maximum absolute error of ``candidate``.

    The relative L2 error is ``||candidate - reference|| / ||reference||`` over all
    entries; ``max_abs_over_peak`` divides the maximum absolute error by the peak
    absolute reference value.
    """
    difference = np.asarray(candidate) - np.asarray(reference)
    norm = float(np.linalg.norm(reference))
    peak = float(np.max(np.abs(reference)))
    max_abs = float(np.max(np.abs(difference)))
    return {
        "relative_l2": float(np.linalg.norm(difference)) / norm if norm > 0 else float("inf"),
        "max_abs": max_abs,
        "max_abs_over_peak": max_abs / peak if peak > 0 else float("inf"),
    }


def per_probe_metrics(candidate: np.ndarray, reference: np.ndarray, nodes: list[str],
                      probes: dict[str, str]) -> dict:
    """Return ``error_metrics`` over time for each probe, given as probe name to node name."""
    column = {node: k for k, node in enumerate(nodes)}
    return {name: error_metrics(candidate[:, column[node]], reference[:, column[node]])
            for name, node in probes.items()}
