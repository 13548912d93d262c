"""Summary files of a sweep folder: results.json, samples.csv, distribution.png, report.md."""

from __future__ import annotations

import csv
import io
import json
import platform

from npdehw.export import versions
from npdehw.sim.sweep_perturb import DISTRIBUTIONS, part_tolerances
from npdehw.sim.sweep_network import NETWORK_FIGURES, NetworkSampleContext, program_network
from npdehw.sim.sweep_sample import FIGURES, NOMINAL
from npdehw.sweep_plots import plot_distribution
from npdehw.sweep_summary import figure_values, setting_summary

__all__ = ["sweep_results", "write_summary"]

NETWORK_SEED_RULE = ("; a crossbar network sample takes the integer s_k = "
                     "integers(2**62) from it and programs layer l with "
                     "numpy.random.default_rng(s_k + l)")


def figure_description(figure: str) -> str:
    """Return the definition of a figure of merit."""
    if figure in NETWORK_FIGURES:
        return NETWORK_FIGURES[figure]
    if figure.startswith("probe:"):
        return (f"relative L2 error over the output times at probe "
                f"{figure.removeprefix('probe:')} against the twin of the ideal circuit")
    return FIGURES[figure]


def device_summary(context: NetworkSampleContext) -> dict:
    """Return the devices a crossbar network sample programs and their variation."""
    device = context.device
    count = sum(layer.mapping.programmed_s.size
                for layer in program_network(context, NOMINAL).layers)
    return {"memristor": {"count": count, "levels": device.levels,
                          "programming_noise": device.programming_noise,
                          "stuck_min_rate": device.stuck_min_rate,
                          "stuck_max_rate": device.stuck_max_rate},
            "held_out_samples": len(context.inputs)}


def _variation_text(context, options) -> str:
    if not isinstance(context, NetworkSampleContext):
        return DISTRIBUTIONS[options.distribution]
    device = context.device
    return (f"each memristor programmed to its level times (1 + {device.programming_noise:g}"
            f" z), z standard normal, clipped to the conductance range, then stuck at g_min "
            f"with probability {device.stuck_min_rate:g} or at g_max with probability "
            f"{device.stuck_max_rate:g} (first setting)")


def part_summary(context) -> dict:
    """Return count, series and tolerance of each kind of part that a sample perturbs."""
    if isinstance(context, NetworkSampleContext):
        return device_summary(context)
    summary = {}
    for data, tolerance in part_tolerances(context.graph, context.tolerances):
        entry = summary.setdefault(data["kind"], {"count": 0, "series": data.get("series"),
                                                  "tolerance": tolerance})
        entry["count"] += 1
    return summary


def _ngspice(records: dict) -> str | None:
    return next((r["ngspice"] for r in records.values() if r.get("ngspice")), None)


def sweep_results(design_info: dict, settings, contexts, records: dict, options,
                  run: dict) -> dict:
    """Return the JSON-ready results of the whole sweep."""
    by_setting = {s.index: [] for s in settings}
    for (setting, _), record in records.items():
        if setting in by_setting:
            by_setting[setting].append(record)
    entries = []
    for setting, context in zip(settings, contexts):
        summary = setting_summary(by_setting[setting.index], options.figure, options.spec,
                                  options.samples)
        entries.append({"index": setting.index, "label": setting.label,
                        "values": setting.values, "parts": part_summary(context), **summary})
    return {
        "design": design_info,
        "sweep": {"samples_per_setting": options.samples, "seed": options.seed,
                  "seed_rule": "sample k draws from numpy.random.SeedSequence(seed, "
                               "spawn_key=(k,)); sample -1 is the nominal run"
                               + (NETWORK_SEED_RULE if options.network_samples else ""),
                  "distribution": options.distribution,
                  "distribution_text": _variation_text(contexts[0], options),
                  "kind": "network" if isinstance(contexts[0], NetworkSampleContext)
                  else "grid",
                  "network_samples": options.network_samples,
                  "tolerance_overrides": options.tolerances,
                  "figure": options.figure, "figure_text": figure_description(options.figure),
                  "spec": options.spec, "spec_text": f"{options.figure} <= {options.spec:g}",
                  "variations": [{"key": v.key, "values": list(v.values)}
                                 for v in options.variations]},
        "settings": entries,
        "run": run,
        "versions": versions(("dask", "distributed", "numpy", "PySpice", "torch"),
                             ngspice=_ngspice(records)),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
    }


def samples_csv(records: dict, settings) -> str:
    """Return one CSV row per stored sample with every figure and its run record."""
    labels = {s.index: s.label for s in settings}
    figures = sorted({name for r in records.values() for name in r.get("figures") or {}})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["setting", "setting_label", "sample", "status", *figures, "ngspice_s",
                     "worker_pid", "worker_runs", "worker_rss_mib", "error"])
    for (setting, sample), record in sorted(records.items()):
        if setting not in labels:
            continue
        values = record.get("figures") or {}
        rss = record.get("worker_rss_bytes")
        writer.writerow([setting, labels[setting], "nominal" if sample == NOMINAL else sample,
                         record["status"], *[_number(values.get(f)) for f in figures],
                         _number(record.get("ngspice_s")), record.get("worker_pid", ""),
                         record.get("worker_runs", ""),
                         "" if rss is None else f"{rss / 2**20:.1f}",
                         record.get("error_line", "")])
    return out.getvalue()


def _number(value) -> str:
    return "" if value is None else f"{value:.6e}"


def write_summary(folder, results: dict, records: dict, settings, command: str) -> list:
    """Write results.json, samples.csv, distribution.png and report.md into ``folder``."""
    from npdehw.sweep_markdown import report_markdown

    written = [folder.write_text("results.json", json.dumps(results, indent=2) + "\n"),
               folder.write_text("samples.csv", samples_csv(records, settings))]
    samples = results["sweep"]["samples_per_setting"]
    series = {}
    for setting in settings:
        kept = [r for (i, k), r in records.items() if i == setting.index and k < samples]
        series[setting.label] = figure_values(kept, results["sweep"]["figure"])
    if any(values.size for values in series.values()):
        plot_path = folder.path / "distribution.png"
        partial = folder.path / ".distribution.partial.png"
        plot_distribution(series, results["sweep"]["figure"], results["sweep"]["spec"],
                          partial)
        partial.replace(plot_path)
        written.append(plot_path)
    written.append(folder.write_text("report.md", report_markdown(results, command)))
    return written
