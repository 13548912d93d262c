"""Yield and distribution of the figure of merit, per setting, from the stored samples.

Yield is the share of the successfully simulated Monte Carlo samples whose figure is
at most the specification. Its 95 % interval is the Wilson score interval, which
stays inside [0, 1] and is usable at yields near 0 or 1. Failed samples are counted
separately and are not in the yield.
"""

from __future__ import annotations

import math

import numpy as np

from npdehw.sim.sweep_sample import NOMINAL

__all__ = ["setting_summary", "wilson_interval"]

Z_95 = 1.959963984540054  # standard normal quantile at 0.975
PERCENTILES = (5, 50, 95)


def wilson_interval(passed: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion ``passed / total``."""
    if total == 0:
        return (math.nan, math.nan)
    p = passed / total
    denominator = 1.0 + z * z / total
    center = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, center - half), min(1.0, center + half))


def _statistics(values: np.ndarray) -> dict:
    if values.size == 0:
        return {}
    spread = float(values.std(ddof=1)) if values.size > 1 else 0.0
    stats = {"mean": float(values.mean()), "std": spread, "min": float(values.min()),
             "max": float(values.max())}
    for q, value in zip(PERCENTILES, np.percentile(values, PERCENTILES)):
        stats[f"p{q}"] = float(value)
    return stats


def figure_values(records: list[dict], figure: str) -> np.ndarray:
    """Return ``figure`` of the finished Monte Carlo samples, in sample order."""
    done = sorted((r for r in records if r["sample"] != NOMINAL and r["status"] == "done"),
                  key=lambda r: r["sample"])
    return np.array([r["figures"][figure] for r in done], dtype=float)


def setting_summary(records: list[dict], figure: str, spec: float, samples: int) -> dict:
    """Return yield, statistics and counts of one setting's stored samples.

    ``records`` may hold more samples than ``samples`` (an earlier, longer sweep in the
    same folder); only sample indices below ``samples`` count.
    """
    records = [r for r in records if r["sample"] < samples]
    values = figure_values(records, figure)
    passed = int(np.sum(values <= spec))
    failed = [r for r in records if r["status"] == "failed"]
    failed_samples = sum(r["sample"] != NOMINAL for r in failed)
    nominal = next((r for r in records if r["sample"] == NOMINAL), None)
    interval = list(wilson_interval(passed, values.size)) if values.size else None
    return {
        "samples_requested": samples,
        "samples_done": int(values.size),
        "samples_failed": failed_samples,
        "samples_missing": samples - int(values.size) - failed_samples,
        "passed": passed,
        "yield": passed / values.size if values.size else None,
        "yield_interval_95": interval,
        "statistics": _statistics(values),
        "nominal": nominal["figures"] if nominal and nominal["status"] == "done" else None,
        "nominal_error": nominal["error"] if nominal and nominal["error"] else None,
        "failures": [{"sample": r["sample"], "error": r["error"],
                      "error_line": r.get("error_line", r["error"].splitlines()[0])}
                     for r in failed],
    }
