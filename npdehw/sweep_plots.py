"""The distribution plot of a sweep: histogram and empirical CDF of the figure of merit."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["MAX_PLOTTED_SETTINGS", "plot_distribution"]

MAX_PLOTTED_SETTINGS = 8
_LOG_SPAN = 20.0  # max / min ratio above which the axis is logarithmic


def plot_distribution(series: dict[str, np.ndarray], figure: str, spec: float,
                      path: Path) -> Path:
    """Write the histogram and the CDF of each setting's values with the specification.

    ``series`` maps a setting label to its values; only the first
    ``MAX_PLOTTED_SETTINGS`` non-empty settings are drawn.
    """
    plotted = {label: v for label, v in series.items() if v.size}
    plotted = dict(list(plotted.items())[:MAX_PLOTTED_SETTINGS])
    every = np.concatenate(list(plotted.values()) or [np.array([spec])])
    logarithmic = every.min() > 0 and max(every.max(), spec) / every.min() > _LOG_SPAN
    low, high = min(every.min(), spec), max(every.max(), spec)
    edges = (np.geomspace(low, high, 41) if logarithmic else np.linspace(low, high, 41))
    figure_handle, (histogram, cdf) = plt.subplots(1, 2, figsize=(11, 4.2),
                                                   constrained_layout=True)
    for label, values in plotted.items():
        histogram.hist(values, bins=edges, histtype="step", linewidth=1.5, label=label)
        ordered = np.sort(values)
        cdf.step(ordered, np.arange(1, ordered.size + 1) / ordered.size, where="post",
                 label=label)
    for axis in (histogram, cdf):
        axis.axvline(spec, color="black", linestyle="--", linewidth=1, label=f"spec {spec:g}")
        axis.set_xlabel(figure)
        if logarithmic:
            axis.set_xscale("log")
    histogram.set_ylabel("samples")
    histogram.set_title("histogram")
    cdf.set_ylabel("share of samples at or below")
    cdf.set_ylim(0, 1.02)
    cdf.set_title("empirical CDF")
    cdf.legend(fontsize="small", loc="lower right")
    figure_handle.savefig(path, dpi=110)
    plt.close(figure_handle)
    return path
