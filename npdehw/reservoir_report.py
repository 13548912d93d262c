"""The run folder of a reservoir design: netlists, BOM, readout, results, report and plots."""

from __future__ import annotations

import csv
import io
import json
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from npdehw.export import versions, rounding_summary  # noqa: E402
from npdehw.hw.bom import bom_csv  # noqa: E402
from npdehw.runfolder import atomic_folder  # noqa: E402
from npdehw.sim.reservoir_run import reservoir_netlist  # noqa: E402

__all__ = ["RESERVOIR_FILES", "export_reservoir_run"]

RESERVOIR_FILES = ("netlist.cir", "netlist_quantized.cir", "bom.csv", "readout.csv",
                   "results.json", "report.md", "prediction.png", "states.png", "ridge.png")
_PLOTTED_TEST_SAMPLES = 200
_PLOTTED_SAMPLES = 300
_CASE_LABELS = {
    "spice_on_spice": ("ngspice, ideal parts", "ngspice, ideal parts"),
    "twin_on_twin": ("twin, ideal parts", "twin, ideal parts"),
    "twin_on_spice": ("twin, ideal parts", "ngspice, ideal parts"),
    "rounded_on_rounded": ("ngspice, rounded parts", "ngspice, rounded parts"),
    "twin_on_rounded": ("twin, ideal parts", "ngspice, rounded parts"),
    "rounded_twin_on_rounded": ("twin, rounded parts", "ngspice, rounded parts"),
}


def export_reservoir_run(design, outcome, out: Path) -> Path:
    """Write the run folder ``out`` atomically and return its path."""
    drive = design.drive_v()
    sample_s = design.mapping.to_seconds(design.sample_time)
    with atomic_folder(out) as folder:
        for name, graph, title in (("netlist.cir", outcome.graph, design.name),
                                   ("netlist_quantized.cir", outcome.rounded_graph,
                                    f"{design.name}_rounded")):
            (folder / name).write_text(reservoir_netlist(graph, drive, sample_s,
                                                         design.steps_per_sample, title=title))
        (folder / "bom.csv").write_text(bom_csv(outcome.rounded_graph))
        (folder / "readout.csv").write_text(_readout_csv(outcome))
        record = results_record(design, outcome)
        (folder / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        (folder / "report.md").write_text(_report(design, record))
        _plot_prediction(design, outcome, folder / "prediction.png")
        _plot_states(design, outcome, folder / "states.png")
        _plot_ridge(design, outcome.metrics, folder / "ridge.png")
    return Path(out)


def results_record(design, outcome) -> dict:
    """Return the JSON-ready record of a run."""
    spec = design.spec
    return {
        "design": {"name": design.name, "description": design.description,
                   "file": str(design.source)},
        "versions": versions(),
        "reservoir": {"shape": list(spec.shape), "nodes": spec.n_nodes,
                      "boundary": spec.boundary, "diffusion": spec.diffusion,
                      "advection": spec.advection, "decay": spec.decay,
                      "reaction": None if spec.reaction is None else spec.reaction.text,
                      "input_nodes": [list(i) for i in spec.input_nodes],
                      "input_weights": list(spec.input_weights),
                      "input_offset": spec.input_offset, "input_gain": spec.input_gain},
        "task": {"kind": "narma", "order": design.order, "seed": design.seed,
                 "washout": design.split.washout, "train": design.split.train,
                 "test": design.split.test, "sample_time": design.sample_time,
                 "steps_per_sample": design.steps_per_sample, "ridge": design.ridge},
        "circuit": {"time_scale_s": design.mapping.time_scale_s,
                    "voltage_scale_v": design.mapping.voltage_scale_v,
                    "capacitance_f": design.mapping.capacitance_f,
                    "components": _component_counts(outcome.graph)},
        "rounding": rounding_summary(types.SimpleNamespace(rounded_graph=outcome.rounded_graph)),
        "metrics": outcome.metrics,
        "timings_s": outcome.timings_s,
    }


def _component_counts(graph) -> dict:
    counts = {}
    for _, _, kind in graph.edges(data="kind"):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _readout_csv(outcome) -> str:
    """Return the readout weights (per volt) fitted on ngspice and on the twin."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["feature", "weight_ngspice", "weight_twin"])
    spice, twin = outcome.readouts["spice_on_spice"], outcome.readouts["twin_on_spice"]
    for k, node in enumerate(outcome.nodes):
        writer.writerow([f"v({node})", f"{spice.weight[k]:.9g}", f"{twin.weight[k]:.9g}"])
    writer.writerow(["bias", f"{spice.bias:.9g}", f"{twin.bias:.9g}"])
    return buffer.getvalue()


def _report(design, record: dict) -> str:
    metrics = record["metrics"]
    nmse, taps, states = metrics["nmse"], metrics["baseline_taps"], metrics["states"]
    spec = design.spec
    grid = (f"line of {spec.n_nodes} nodes" if len(spec.shape) == 1
            else f"{spec.shape[0]} x {spec.shape[1]} grid")
    lines = [f"# {design.name}", "", design.description, "",
             f"A reaction-diffusion {grid}, driven by NARMA-{design.order} inputs at "
             f"{len(spec.input_nodes)} nodes; every node voltage is read once per input "
             f"sample and a ridge readout (ridge {design.ridge:g} V^2) is fitted on "
             f"{design.split.train} samples after a washout of {design.split.washout}, then "
             f"scored on the next {design.split.test}.", "",
             "## Test NMSE", "",
             "NMSE is the mean squared error over the variance of the target: 1 is no "
             "better than predicting the mean.", "",
             "| readout fitted on | scored on | NMSE |", "|---|---|---|"]
    for case, (train, test) in _CASE_LABELS.items():
        lines.append(f"| {train} | {test} | {nmse[case]:.4f} |")
    lines += [f"| delay line, {taps['delay_line_order']} taps (no reservoir) | input | "
              f"{nmse['delay_line_order']:.4f} |",
              f"| delay line, {taps['delay_line_nodes']} taps (no reservoir) | input | "
              f"{nmse['delay_line_nodes']:.4f} |", "",
              "The delay lines see the last input samples directly, with as many taps as "
              "the task's order and as the grid has nodes. A readout fitted on the ideal "
              "twin and scored on the rounded circuit shows how much the readout depends "
              "on the exact part values; the rounded circuit's twin is the one to fit "
              "against once the parts are chosen.", "",
              "## States", "",
              "| comparison | relative L2 | max abs (V) |", "|---|---|---|",
              _state_row("twin vs ngspice, ideal parts", states["twin_vs_ngspice"]),
              _state_row("twin vs ngspice, rounded parts",
                         states["rounded_twin_vs_rounded_ngspice"]),
              _state_row("ngspice, rounded vs ideal parts", states["rounded_vs_ideal_ngspice"]),
              "", "## Rounding", ""]
    for kind, entry in record["rounding"].items():
        lines.append(f"- {entry['count']} {kind}s to {entry['series']}: largest change "
                     f"{100 * entry['max_relative_change']:.2f} %, "
                     f"{entry['distinct_values']} distinct values")
    lines += ["", "`netlist_quantized.cir` is the circuit to build (`bom.csv` lists its parts); "
              "both netlists carry the whole input series as a PWL source and run with "
              "`ngspice -b`. `readout.csv` holds the readout weights per node voltage.", "",
              "![target and predictions](prediction.png)", "", "![states](states.png)", "",
              "![NMSE against ridge](ridge.png)", ""]
    return "\n".join(lines)


def _state_row(label: str, entry: dict) -> str:
    return f"| {label} | {entry['relative_l2']:.3e} | {entry['max_abs']:.3e} |"


def _plot_prediction(design, outcome, path: Path) -> None:
    count = min(_PLOTTED_TEST_SAMPLES, design.split.test)
    samples = design.split.test_part.start + np.arange(count)
    figure, axis = plt.subplots(figsize=(10, 4), constrained_layout=True)
    axis.plot(samples, design.targets[samples], color="black", linewidth=2, label="target")
    for case, label in (("spice_on_spice", "reservoir, ngspice"),
                        ("twin_on_spice", "twin readout on ngspice"),
                        ("delay_line_nodes", "delay line (no reservoir)")):
        axis.plot(samples, outcome.predictions[case][:count], linewidth=1,
                  label=f"{label}, NMSE {outcome.metrics['nmse'][case]:.3f}")
    axis.set_xlabel("sample")
    axis.set_ylabel(f"NARMA-{design.order} output")
    axis.set_title("test part")
    axis.legend(fontsize=8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_states(design, outcome, path: Path) -> None:
    count = min(_PLOTTED_SAMPLES, design.split.total)
    spice, twin = outcome.states["ngspice"][:count], outcome.states["twin"][:count]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), constrained_layout=True)
    image = top.imshow(spice.T, aspect="auto", interpolation="nearest", cmap="viridis")
    figure.colorbar(image, ax=top, label="V")
    top.set_ylabel("node (C order)")
    top.set_title("ngspice node voltages, one column per input sample")
    columns = np.linspace(0, spice.shape[1] - 1, 4).astype(int)
    for column in columns:
        line, = bottom.plot(spice[:, column], linewidth=1.5,
                            label=f"{outcome.nodes[column]} ngspice")
        bottom.plot(twin[:, column], linestyle="--", color=line.get_color(), linewidth=1,
                    label=f"{outcome.nodes[column]} twin")
    bottom.set_xlabel("sample")
    bottom.set_ylabel("V")
    bottom.legend(fontsize=7, ncol=4)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _plot_ridge(design, metrics: dict, path: Path) -> None:
    sweep = metrics["ridge_sweep"]
    figure, axis = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for case, (train, test) in _CASE_LABELS.items():
        axis.loglog(sweep["ridge"], sweep["nmse"][case], marker="o", markersize=3,
                    label=f"{train} -> {test}")
    axis.axvline(design.ridge, color="gray", linestyle=":", label="design ridge")
    axis.axhline(metrics["nmse"]["delay_line_nodes"], color="black", linestyle="--",
                 linewidth=1, label="delay line (no reservoir)")
    axis.set_xlabel("ridge (V^2)")
    axis.set_ylabel("test NMSE")
    axis.legend(fontsize=7)
    figure.savefig(path, dpi=100)
    plt.close(figure)
