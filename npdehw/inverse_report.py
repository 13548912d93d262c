"""The run folder of the inverse job: netlists, BOM, provenance, per-edge table, report, plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402

from npdehw.export import versions  # noqa: E402
from npdehw.hw.bom import bom_csv  # noqa: E402
from npdehw.hw.netlist import TransientAnalysis, write_netlist  # noqa: E402
from npdehw.hw.writeback import provenance_csv  # noqa: E402
from npdehw.plots import plot_loss  # noqa: E402
from npdehw.runfolder import atomic_folder  # noqa: E402

__all__ = ["RUN_FILES", "export_inverse_run", "summary_lines"]

RUN_FILES = ("netlist.cir", "netlist_quantized.cir", "bom.csv", "trained_parameters.csv",
             "edges.csv", "results.json", "report.md", "loss.png", "resistance_maps.png",
             "probe_fit.png")
MAX_LISTED = 24
_VARIANTS = (("digital_twin", "digital: twin, trained values"),
             ("ideal_spice", "ideal: ngspice, trained values"),
             ("rounded_spice", "rounded: ngspice, {series} parts"),
             ("hidden_twin", "floor: twin, hidden values"))


def export_inverse_run(design, result, out: Path) -> Path:
    """Write the run folder ``out`` atomically and return its path."""
    problem = result.problem
    analysis = TransientAnalysis(**result.spice_options)
    record = results_record(design, result)
    with atomic_folder(out) as folder:
        for name, graph in (("netlist.cir", result.trained),
                            ("netlist_quantized.cir", result.rounded)):
            (folder / name).write_text(write_netlist(graph, analysis, title=design.name,
                                                     probes=problem.probes[:8]))
        (folder / "bom.csv").write_text(bom_csv(result.rounded))
        (folder / "trained_parameters.csv").write_text(provenance_csv(result.rounded))
        (folder / "edges.csv").write_text(edges_csv(design, result))
        (folder / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        (folder / "report.md").write_text(report_text(design, result))
        plot_loss({f"noise {100 * f['noise']:g} %": f["history"] for f in result.fits},
                  folder / "loss.png", ylabel=f"mean squared mismatch / ({_unit()} x RMS)^2")
        plot_resistance_maps(design, result, folder / "resistance_maps.png")
        plot_probe_fit(result, folder / "probe_fit.png")
    return Path(out)


def _unit() -> str:
    from npdehw.inverse_run import LOSS_UNIT

    return f"{LOSS_UNIT:g}"


def results_record(design, result) -> dict:
    """Return the JSON-ready record of a run."""
    problem = result.problem
    return {
        "design": {"name": design.name, "description": design.description,
                   "file": str(design.source), "shape": list(design.shape),
                   "boundary": design.boundary, "resistance_ohm": design.resistance_ohm,
                   "capacitance_f": design.capacitance_f,
                   "hidden_ratio": list(design.hidden_ratio),
                   "excitations": design.excitations, "probes": len(problem.probes),
                   "noise_levels": list(design.noise_levels),
                   "twin_method": design.twin_method,
                   "training": design.training.__dict__},
        "versions": versions(),
        "output_times_s": problem.time_s.tolist(),
        "spice_options": result.spice_options,
        "noise_definition": "Gaussian, standard deviation = level x RMS of the hidden "
                            "circuit's ngspice probe voltages",
        "observability": {"definition": "Cramer-Rao bound of the relative resistance error "
                                        "at the hidden values, with probe noise of "
                                        "observability_noise x RMS probe voltage; an edge is "
                                        "observable when the bound is at most "
                                        "observability_limit",
                          "observability_noise": design.observability_noise,
                          "observability_limit": design.observability_limit},
        "metrics": result.metrics,
        "timings_s": result.timings_s,
    }


def edges_csv(design, result) -> str:
    """Return one row per edge: position, hidden, recovered and rounded values, errors."""
    problem = result.problem
    rounded = {key: data["value"] for _, _, key, data in result.rounded.edges(keys=True,
                                                                                 data=True)}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    axes = ["x", "y"][:len(design.shape)]
    levels = [f"{100 * f['noise']:g}pct" for f in result.fits]
    writer.writerow(["designator", *axes, "hidden_ohm",
                     *[f"recovered_ohm_noise_{level}" for level in levels],
                     f"rounded_ohm_{design.resistor_series}",
                     *[f"error_noise_{level}" for level in levels], "error_rounded",
                     "cramer_rao_bound", "observable"])
    for k, name in enumerate(problem.edges):
        hidden = problem.hidden_ohm[k]
        recovered = [f["resistance_ohm"][k] for f in result.fits]
        writer.writerow([name, *[f"{x:g}" for x in problem.positions[k]], f"{hidden:.6g}",
                         *[f"{r:.6g}" for r in recovered], f"{rounded[name]:.6g}",
                         *[f"{r / hidden - 1:.3e}" for r in recovered],
                         f"{rounded[name] / hidden - 1:.3e}", f"{result.bounds[k]:.3e}",
                         str(bool(result.observable[k])).lower()])
    return buffer.getvalue()


def summary_lines(result) -> list[str]:
    """Return the headline figures, one line each."""
    metrics = result.metrics
    lines = [f"observable edges: {metrics['observable_edges']} of {metrics['edges']}"]
    for entry in metrics["fits"]:
        lines.append(f"noise {100 * entry['noise']:g} %: max |R error| on observable edges "
                     f"{_percent(entry['max_abs_error_observable'])}, RMS "
                     f"{_percent(entry['rms_error_observable'])}")
    for label, entry in metrics["against_hidden_spice"].items():
        lines.append(f"{entry['description']} vs hidden ngspice data: relative L2 "
                     f"{entry['relative_l2']:.3e}")
    return lines


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.3f} %"


def report_text(design, result) -> str:
    """Return report.md."""
    problem, metrics = result.problem, result.metrics
    grid = " x ".join(map(str, design.shape))
    low, high = design.hidden_ratio
    lines = [f"# {design.name}", "", design.description, "",
             f"A {grid} RC grid ({design.boundary} sides) with {metrics['edges']} edge "
             f"resistors from a seeded smooth field between {low:g}x and {high:g}x of "
             f"{design.resistance_ohm:g} ohm and {design.capacitance_f:g} F per node. "
             f"ngspice recorded {len(problem.probes)} probes at {len(problem.time_s)} times "
             f"(up to {design.end_time:g} R C) from {design.excitations} seeded initial "
             f"states; the twin ({design.twin_method}) trained every edge conductance from "
             f"the nominal value with {design.training.optimizer}.", ""]
    lines += _observability_lines(design, result)
    lines += _recovery_lines(design, metrics)
    lines += _variant_lines(design, metrics)
    lines += ["## Plots", "", "![resistance maps](resistance_maps.png)", "",
              "![loss](loss.png)", "", "![probe fit](probe_fit.png)", "",
              "`edges.csv` lists every edge; `trained_parameters.csv` the trained and built "
              "values with their provenance; `netlist.cir` and `netlist_quantized.cir` start "
              "from the first excitation.", ""]
    return "\n".join(lines)


def _observability_lines(design, result) -> list[str]:
    metrics, problem = result.metrics, result.problem
    unseen = [f"{name} at ({', '.join(f'{x:g}' for x in position)})"
              for name, position, seen in zip(problem.edges, problem.positions,
                                              result.observable) if not seen]
    groups = metrics["fits"][0]["parallel_groups"]
    text = (f"An edge is observable when the Cramer-Rao bound of its relative resistance "
            f"error, at the hidden values and with Gaussian probe noise of "
            f"{100 * design.observability_noise:g} % of the RMS probe voltage, is at most "
            f"{100 * design.observability_limit:g} %. {metrics['observable_edges']} of "
            f"{metrics['edges']} edges are observable.")
    if unseen:
        text += (f" Not observable (positions in node indices): "
                 f"{', '.join(unseen[:MAX_LISTED])}")
        if len(unseen) > MAX_LISTED:
            text += f" and {len(unseen) - MAX_LISTED} more"
        text += "."
    if groups["count"]:
        text += (f" {groups['count']} groups of edges are in parallel (one node to 0 V "
                 "through two boundary resistors, at the corners), so the probes see only "
                 "their summed conductance.")
    return ["## Observability", "", text, ""]


def _recovery_lines(design, metrics) -> list[str]:
    rows = ["## Recovered resistances", "",
            f"Errors are R_recovered / R_hidden - 1 over the observable edges; the tolerance "
            f"is {100 * design.tolerance:g} %. The predicted RMS error is the RMS of the "
            "Cramer-Rao bounds scaled to the noise level.", "",
            "| probe noise | max abs error | RMS error | within tolerance | predicted RMS | "
            "max abs error, all edges | parallel sums, max error | epochs | loss |",
            "|---|---|---|---|---|---|---|---|---|"]
    for entry in metrics["fits"]:
        parallel = entry["parallel_groups"]["max_abs_conductance_error"]
        rows.append(f"| {100 * entry['noise']:g} % | "
                    f"{_percent(entry['max_abs_error_observable'])} | "
                    f"{_percent(entry['rms_error_observable'])} | "
                    f"{entry['within_tolerance_observable']} of {metrics['observable_edges']} "
                    f"| {_percent(entry['predicted_rms_error'])} | "
                    f"{_percent(entry['max_abs_error_all'])} | {_percent(parallel)} | "
                    f"{entry['epochs']} | {entry['final_loss']:.3g} |")
    return rows + [""]


def _variant_lines(design, metrics) -> list[str]:
    rounded = metrics["rounded_edges"]
    rows = ["## Ideal, rounded and digital", "",
            "Each circuit runs from the same initial states and is compared with the hidden "
            "circuit's ngspice probe data (noise-free). The trained values come from the "
            f"first fit (noise {100 * design.noise_levels[0]:g} %).", "",
            "| circuit | relative L2 | max abs / peak |", "|---|---|---|"]
    for key, text in _VARIANTS:
        entry = metrics["against_hidden_spice"][key]
        rows.append(f"| {text.format(series=design.resistor_series)} | "
                    f"{entry['relative_l2']:.3e} | {entry['max_abs_over_peak']:.3e} |")
    twin = metrics["twin_vs_spice_trained"]
    rows += ["", f"Twin against ngspice on the trained circuit: relative L2 "
                 f"{twin['relative_l2']:.3e}. Rounding to {design.resistor_series} moves the "
                 f"observable edges to a max abs error of "
                 f"{_percent(rounded['max_abs_error_observable'])} (RMS "
                 f"{_percent(rounded['rms_error_observable'])}) from the hidden values.", ""]
    return rows


def _segments(positions: np.ndarray) -> np.ndarray:
    """Return each edge as a line segment between its two nodes, shape ``(k, 2, 2)``."""
    along_x = np.abs(positions[:, 0] - np.round(positions[:, 0])) > 0.25
    offset = np.where(along_x[:, None], [[0.4, 0.0]], [[0.0, 0.4]])
    return np.stack([positions - offset, positions + offset], axis=1)


def plot_resistance_maps(design, result, path: Path) -> None:
    """Plot hidden and recovered resistances and the per-edge error of every fit."""
    problem = result.problem
    panels = [("hidden resistance (ohm)", problem.hidden_ohm, "log"),
              (f"recovered, noise {100 * result.fits[0]['noise']:g} %",
               result.fits[0]["resistance_ohm"], "log")]
    for fit_record in result.fits:
        errors = fit_record["resistance_ohm"] / problem.hidden_ohm - 1
        panels.append((f"error, noise {100 * fit_record['noise']:g} %", errors, "error"))
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4),
                                constrained_layout=True, squeeze=False)
    values = np.concatenate([problem.hidden_ohm, result.fits[0]["resistance_ohm"]])
    log_norm = LogNorm(values.min(), values.max())
    for axis, (title, data, kind) in zip(axes[0], panels):
        if kind == "log":
            norm, cmap = log_norm, "viridis"
        else:
            bound = max(float(np.abs(data[result.observable]).max(initial=0.0)),
                        design.tolerance)
            norm, cmap = Normalize(-bound, bound), "RdBu_r"
        if kind == "error":
            axis.set_facecolor("0.85")
        _draw_edges(axis, design, problem.positions, data, norm, cmap, result.observable)
        axis.set_title(title, fontsize=9)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _draw_edges(axis, design, positions, data, norm, cmap, observable):
    if len(design.shape) == 1:
        axis.plot(positions[:, 0], data, "o-", markersize=3)
        axis.plot(positions[~observable, 0], data[~observable], "kx", label="not observable")
        axis.set_xlabel("edge position (nodes)")
        axis.set_yscale("log" if isinstance(norm, LogNorm) else "linear")
        if not observable.all():
            axis.legend(fontsize=7)
        return
    lines = LineCollection(_segments(positions)[:, :, ::-1], array=data, norm=norm, cmap=cmap,
                           linewidths=3)
    axis.add_collection(lines)
    hidden = LineCollection(_segments(positions[~observable])[:, :, ::-1], colors="black",
                            linewidths=1, linestyles="dotted")
    axis.add_collection(hidden)
    axis.set_xlim(-1, design.shape[1])
    axis.set_ylim(design.shape[0], -1)
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
    plt.colorbar(lines, ax=axis, shrink=0.8)


def plot_probe_fit(result, path: Path, count: int = 3) -> None:
    """Plot a few probes of the first excitation: hidden data and the recovered circuits.

    Each curve starts at t = 0 from the capacitor initial voltage.
    """
    problem, voltages = result.problem, result.voltages
    chosen = np.linspace(0, len(problem.probes) - 1, min(count, len(problem.probes)))
    chosen = sorted(set(chosen.round().astype(int)))
    times = np.concatenate([[0.0], problem.time_s]) / problem.mapping.time_scale_s
    initial = problem.starts[0, problem.probe_index]
    figure, axes = plt.subplots(1, len(chosen), figsize=(4.2 * len(chosen), 3.4),
                                constrained_layout=True, squeeze=False)
    styles = (("hidden_spice", "hidden, ngspice", "k-"), ("ideal_spice", "trained, ngspice",
                                                          "C0--"),
              ("rounded_spice", "rounded, ngspice", "C1:"), ("digital_twin", "trained, twin",
                                                               "C2-."))
    for axis, k in zip(axes[0], chosen):
        for key, label, style in styles:
            axis.plot(times, np.concatenate([[initial[k]], voltages[key][0, :, k]]), style,
                      label=label)
        axis.set_title(f"probe {problem.probes[k]}", fontsize=9)
        axis.set_xlabel("time (R C)")
    axes[0][0].set_ylabel("voltage (V)")
    axes[0][0].legend(fontsize=7)
    figure.savefig(path, dpi=100)
    plt.close(figure)
