"""PNG plots of a run: the field over time for each simulator, and the errors."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_errors", "plot_fields", "plot_loss"]

_COLUMNS = (("spice", "ngspice"), ("twin", "twin"), ("reference", "exact semi-discrete"))


def _snapshot_rows(n_times: int, count: int = 4) -> list[int]:
    return sorted(set(np.linspace(0, n_times - 1, count).round().astype(int).tolist()))


def plot_fields(result, folder: Path) -> list[Path]:
    """Write the field at several times per simulator; return the files written.

    The first field goes to ``fields.png``, any other field ``f`` to ``fields_f.png``.
    """
    npde = result.design.npde
    rows = _snapshot_rows(len(result.time_s))
    columns = [(key, title) for key, title in _COLUMNS if key in result.voltages]
    written = []
    for number, field in enumerate(npde.fields):
        block = npde.field_slice(field)
        voltages = {key: result.voltages[key][:, block] for key, _ in columns}
        if npde.grid.ndim == 1:
            figure = _plot_fields_1d(result, voltages, columns, rows)
        else:
            figure = _plot_fields_2d(result, voltages, columns, rows)
        if len(npde.fields) > 1:
            figure.suptitle(f"field {field}")
        path = Path(folder) / ("fields.png" if number == 0 else f"fields_{field}.png")
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def _plot_fields_1d(result, voltages, columns, rows):
    x = result.design.npde.grid.coordinates()[0]
    figure, axes = plt.subplots(1, len(columns), figsize=(4.4 * len(columns), 4), sharey=True,
                                constrained_layout=True, squeeze=False)
    for axis, (key, title) in zip(axes[0], columns):
        for row in rows:
            axis.plot(x, voltages[key][row], label=f"t = {result.model_time[row]:.4g}")
        axis.set_title(title)
        axis.set_xlabel("x (model length)")
    axes[0][0].set_ylabel("node voltage (V)")
    axes[0][-1].legend()
    return figure


def _plot_fields_2d(result, voltages, columns, rows):
    grid = result.design.npde.grid
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(3.4 * len(columns),
                                                                  3 * len(rows)),
                                squeeze=False, constrained_layout=True)
    low = min(voltages[key].min() for key, _ in columns)
    high = max(voltages[key].max() for key, _ in columns)
    mask = grid.active()
    for r, row in enumerate(rows):
        for c, (key, title) in enumerate(columns):
            image = np.full(grid.shape, np.nan)
            image[mask] = voltages[key][row]
            picture = axes[r][c].imshow(image.T, origin="lower", vmin=low, vmax=high,
                                        cmap="viridis")
            axes[r][c].set_title(f"{title}, t = {result.model_time[row]:.4g}")
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
    figure.colorbar(picture, ax=axes, label="node voltage (V)", shrink=0.6)
    return figure


def plot_errors(result, path: Path) -> None:
    """Write the largest absolute difference over the nodes against time, per comparison.

    t = 0 is left out: every simulator starts from the same initial voltages there.
    """
    pairs = [("twin", "spice", "twin - ngspice"),
             ("spice", "reference", "ngspice - exact semi-discrete"),
             ("spice_rounded", "spice", "rounded - ideal (ngspice)"),
             ("reference", "continuum", "semi-discrete - continuum")]
    figure, axis = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for a, b, label in pairs:
        if a in result.voltages and b in result.voltages:
            error = np.abs(result.voltages[a] - result.voltages[b]).max(axis=1)[1:]
            axis.semilogy(result.model_time[1:], np.maximum(error, 1e-16), marker="o",
                          label=label)
    axis.set_xlabel("model time")
    axis.set_ylabel("max |difference| over nodes (V)")
    axis.set_title(f"{result.design.name}: errors")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_loss(histories: dict, path: Path, ylabel: str = "loss") -> None:
    """Plot the training loss per epoch of each named history on a log axis.

    ``histories`` maps a label to a ``History`` or its ``as_dict()``; a dashed line
    shows the monitored (validation) value where it differs from the training loss.
    """
    figure, axis = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
    for label, history in histories.items():
        record = history if isinstance(history, dict) else history.as_dict()
        epochs = np.arange(1, len(record["loss"]) + 1)
        line, = axis.plot(epochs, record["loss"], label=label)
        if record["monitored"] != record["loss"]:
            axis.plot(epochs, record["monitored"], "--", color=line.get_color(),
                      label=f"{label} (validation)")
        if record.get("best_epoch"):
            axis.axvline(record["best_epoch"], color=line.get_color(), alpha=0.3)
    axis.set_yscale("log")
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.legend(fontsize=7)
    figure.savefig(path, dpi=110)
    plt.close(figure)
