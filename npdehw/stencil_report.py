"""The run folder of a stencil design: netlists, parts, provenance, results, report, plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from npdehw.hw.bom import bom_csv  # noqa: E402
from npdehw.hw.writeback import provenance_csv  # noqa: E402
from npdehw.plots import plot_loss  # noqa: E402
from npdehw.runfolder import atomic_folder  # noqa: E402
from npdehw.sim.stencil_run import stencil_netlist  # noqa: E402

__all__ = ["EXAMPLES", "export_stencil_run"]

EXAMPLES = 4
_TARGET_TITLES = {"denoise": "clean", "edges": "target (Laplacian)"}


def export_stencil_run(design, record: dict, circuits: dict, test, outputs: dict,
                       out: Path) -> Path:
    """Write the run folder atomically.

    Args:
        circuits: ``ideal`` and ``rounded`` stencil circuits.
        test: the held-out split; its first ``EXAMPLES`` images go into the netlists
            and the example plot.
        outputs: ``float`` and ``spice`` (rounded parts) outputs of those images.
    """
    examples = test.inputs[:EXAMPLES]
    with atomic_folder(out) as folder:
        (folder / "netlist.cir").write_text(
            stencil_netlist(circuits["ideal"], examples, design.name))
        (folder / "netlist_quantized.cir").write_text(
            stencil_netlist(circuits["rounded"], examples, design.name))
        (folder / "bom.csv").write_text(bom_csv(circuits["rounded"].graph))
        (folder / "trained_parameters.csv").write_text(
            provenance_csv(circuits["rounded"].graph))
        (folder / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        (folder / "report.md").write_text(_report(design, record))
        plot_loss({"stencil": record["training"]["history"]}, folder / "loss.png",
                  ylabel="mean squared error")
        _plot_examples(design, examples, test.targets[:EXAMPLES], outputs,
                       folder / "examples.png")
        _plot_stencil(record["stencil"], folder / "stencil.png")
    return Path(out)


def _plot_examples(design, inputs, targets, outputs, path: Path) -> None:
    columns = (("noisy input", inputs), (_TARGET_TITLES[design.task], targets),
               ("float stencil", outputs["float"]),
               (f"ngspice, {design.resistor_series}", outputs["spice"]))
    figure, axes = plt.subplots(len(inputs), len(columns),
                                figsize=(2.2 * len(columns), 2.2 * len(inputs)),
                                squeeze=False, constrained_layout=True)
    for row, target in enumerate(targets):
        low, high = float(target.min()), float(target.max())
        for column, (title, images) in enumerate(columns):
            axis = axes[row][column]
            picture = axis.imshow(images[row], cmap="gray", vmin=low, vmax=high)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=9)
        figure.colorbar(picture, ax=axes[row].tolist(), shrink=0.8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_stencil(stencil: dict, path: Path) -> None:
    kernels = (("float stencil", stencil["weight"], stencil["bias"]),
               ("E-series parts", stencil["realized_weight"], stencil["realized_bias"]))
    bound = max(np.abs(np.asarray(k[1])).max() for k in kernels)
    figure, axes = plt.subplots(1, 2, figsize=(7, 3.4), constrained_layout=True)
    for axis, (title, kernel, bias) in zip(axes, kernels):
        kernel = np.asarray(kernel)
        picture = axis.imshow(kernel, cmap="RdBu_r", vmin=-bound, vmax=bound)
        for (a, b), value in np.ndenumerate(kernel):
            colour = "white" if abs(value) > 0.6 * bound else "black"
            axis.text(b, a, f"{value:.4f}", ha="center", va="center", fontsize=8,
                      color=colour)
        axis.set_xticks(range(3), ["-1", "0", "+1"])
        axis.set_yticks(range(3), ["-1", "0", "+1"])
        axis.set_xlabel("column offset")
        axis.set_ylabel("row offset")
        axis.set_title(f"{title}, bias {bias:+.4f}", fontsize=9)
    figure.colorbar(picture, ax=list(axes), shrink=0.8, label="weight")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _report(design, record: dict) -> str:
    lines = [f"# {design.name}", "", design.description, ""]
    lines += _setup_lines(design, record)
    lines += _score_lines(design, record)
    lines += _stencil_lines(design, record)
    lines += _training_lines(record)
    lines += _file_lines()
    return "\n".join(lines) + "\n"


def _setup_lines(design, record) -> list[str]:
    split = record["split"]
    target = "the clean image" if design.task == "denoise" else \
        "the 5-point Laplacian of the clean image"
    return [f"Task `{design.task}`: map a digit (scikit-learn's 8 x 8 digits, pixels in "
            f"[0, 1]) with Gaussian noise of standard deviation {design.noise_std:g} to "
            f"{target}. Images: {split['train']} for training, {split['validation']} for "
            f"early stopping and the feedback resistor, {split['held_out']} held out; "
            f"ngspice runs the first {split['spice_images']} held-out images.", ""]


def _score_lines(design, record) -> list[str]:
    scores, relative = record["scores"], record["relative_to_float"]
    series = design.resistor_series
    rows = [("baseline: " + record["baseline"], "none", "", "baseline"),
            ("float stencil", "torch", "", "float"),
            ("circuit, ideal values", "DC twin", "exact", "twin_ideal"),
            ("circuit, ideal values", "ngspice", "exact", "spice_ideal"),
            (f"circuit, {series} parts", "DC twin", series, "twin_rounded"),
            (f"circuit, {series} parts", "ngspice", series, "spice_rounded")]
    lines = ["## Held-out scores", "",
             f"Mean squared error to the target over {scores['images']} held-out images "
             "(pixel units squared; lower is better).", "",
             "| output | simulator | parts | MSE | vs float stencil |", "|---|---|---|---|---|"]
    for label, simulator, parts, key in rows:
        change = "" if key == "float" else f"{100 * relative[key]:+.3f} %"
        lines.append(f"| {label} | {simulator} | {parts} | {scores[key]:.6f} | {change} |")
    acceptance, agreement = record["acceptance"], record["agreement"]
    verdict = "passed" if acceptance["passed"] else "FAILED"
    lines += ["", f"Acceptance: the {series} circuit in ngspice scores "
              f"{100 * acceptance['rounded_spice_vs_float']:+.3f} % from the float stencil "
              f"(limit ±{100 * acceptance['limit']:.0f} %), and the float stencil "
              f"{'beats' if acceptance['float_beats_baseline'] else 'does not beat'} the "
              f"baseline: {verdict}.", "",
              "Largest output differences (pixel units): ngspice with ideal values against "
              f"the float stencil {agreement['spice_ideal_vs_float']:.2e}"
              f"{_ideal_gap_causes(design, record)}; ngspice against "
              f"the twin {agreement['spice_ideal_vs_twin_ideal']:.2e} (ideal) and "
              f"{agreement['spice_rounded_vs_twin_rounded']:.2e} ({series}); "
              f"{series} ngspice against the stencil its parts realise "
              f"{agreement['spice_rounded_vs_realized_stencil']:.2e}.", ""]
    return lines


def _ideal_gap_causes(design, record) -> str:
    """Return why the ideal circuit differs from the float stencil, in brackets."""
    causes = []
    if record["stencil"]["pruned"]:
        causes.append("the taps left open")
    if design.readout == "tia":
        causes.append("the op-amps' finite open-loop gain")
    return f" (from {' and '.join(causes)})" if causes else ""


def _stencil_lines(design, record) -> list[str]:
    stencil = record["stencil"]
    lines = ["## Learned stencil", "",
             "Weight of the pixel at each (row, column) offset; the E-series row is what "
             "the rounded resistors realise.", "",
             "| | -1 | 0 | +1 |", "|---|---|---|---|"]
    for title, kernel in (("float", stencil["weight"]), (design.resistor_series,
                                                        stencil["realized_weight"])):
        for offset, row in zip(("-1", "0", "+1"), kernel):
            cells = " | ".join(f"{value:+.5f}" for value in row)
            lines.append(f"| {title}, row {offset} | {cells} |")
    rounding = record["rounding"].get("resistor", {})
    if design.readout == "tia":
        readout = (f"two op-amp transimpedance stages per pixel, open-loop gain "
                   f"{design.opamp_gain:g}; feedback resistor")
    else:
        readout = "ideal ammeters on the plus and minus columns; weight scale"
    pruned = ", ".join(stencil["pruned"]) or "none"
    lines += ["", f"Bias: float {stencil['bias']:+.5f}, {design.resistor_series} "
              f"{stencil['realized_bias']:+.5f}.", "",
              f"Circuit: {stencil['tap_resistors']} tap resistors, {stencil['opamps']} "
              f"op-amps ({readout} R_f = {stencil['feedback_ohm']:g} ohm, chosen from "
              f"{len(stencil['feedback_candidates'])} candidates by the validation score "
              "of the rounded stencil). A tap of weight w is a resistor of R_f / |w|. "
              f"Taps left open (resistor above the catalogue): {pruned}.", "",
              f"Rounding: {rounding.get('count', 0)} resistors to "
              f"{rounding.get('series', design.resistor_series)}, "
              f"{rounding.get('distinct_values', 0)} distinct values, largest change "
              f"{100 * rounding.get('max_relative_change', 0.0):.2f} %, mean "
              f"{100 * rounding.get('mean_relative_change', 0.0):.2f} %.", ""]
    return lines


def _training_lines(record) -> list[str]:
    spec, history = record["training"]["spec"], record["training"]["history"]
    stop = "stopped early" if history["stopped_early"] else "ran every epoch"
    resumed = f", resumed after epoch {history['resumed_at']}" if history["resumed_at"] \
        else ""
    return ["## Training", "",
            f"{spec['optimizer']} with learning rate {spec['learning_rate']:g}, batches of "
            f"{spec['batch_size']}, seed {spec['seed']}: {len(history['loss'])} epochs "
            f"({stop}{resumed}); the parameters of epoch {history['best_epoch']} were kept "
            f"(validation MSE {history['monitored'][history['best_epoch'] - 1]:.6f}). "
            "Training starts from the identity stencil, which passes the noisy image "
            "through.", ""]


def _file_lines() -> list[str]:
    return ["## Files", "",
            "- `netlist.cir`, `netlist_quantized.cir`: the circuit with ideal and with "
            f"rounded resistors, stepping through the first {EXAMPLES} held-out images "
            "(`ngspice -b` prints the output nets);",
            "- `bom.csv`: parts of the rounded circuit;",
            "- `trained_parameters.csv`: each tap resistor with its stencil parameter, "
            "the epoch kept, and its value before training (`inf`: no part in the "
            "untrained stencil), after training and as built;",
            "- `results.json`: every figure above, the settings and the versions.", "",
            "![examples](examples.png)", "", "![stencil](stencil.png)", "",
            "![loss](loss.png)"]
