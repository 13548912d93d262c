"""The run folder: netlists, bill of materials, results, report and plots."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import platform
from pathlib import Path

import numpy as np

import npdehw
from npdehw.hw.bom import bom_csv
from npdehw.hw.graph import components
from npdehw.pipeline import probe_nodes
from npdehw.plots import plot_errors, plot_fields
from npdehw.report import write_report
from npdehw.runfolder import atomic_folder
from npdehw.sim.ngspice import ngspice_version

__all__ = ["RUN_FILES", "export_run", "results_record"]

RUN_FILES = ("netlist.cir", "netlist_quantized.cir", "bom.csv", "results.json", "report.md",
             "waveforms.csv", "fields.png", "errors.png")


def _versions() -> dict:
    versions = {"npdehw": npdehw.__version__, "ngspice": ngspice_version(),
                "python": platform.python_version()}
    for package in ("PySpice", "torch", "numpy", "scipy", "networkx"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def rounding_summary(result) -> dict:
    """Return the count and worst relative change of each kind of rounded component."""
    summary = {}
    for kind in ("resistor", "capacitor"):
        parts = list(components(result.rounded_graph, kind))
        if not parts:
            continue
        change = [abs(p["value"] / p["ideal_value"] - 1) for p in parts]
        summary[kind] = {"count": len(parts), "series": parts[0]["series"],
                         "distinct_values": len({p["value"] for p in parts}),
                         "max_relative_change": max(change),
                         "mean_relative_change": float(np.mean(change))}
    return summary


def results_record(result) -> dict:
    """Return the JSON-ready record of a run: metrics, run record, timings."""
    design = result.design
    return {
        "design": {"name": design.name, "description": design.description,
                   "file": str(design.source)},
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
        "solver_options": result.solver,
        "output_times_model": result.model_time.tolist(),
        "output_times_s": result.time_s.tolist(),
        "probes": probe_nodes(design),
        "comparison_interpolation": "ngspice points interpolated linearly onto the twin's "
                                    "output times (numpy.interp); t = 0 is the capacitor "
                                    "initial voltage",
        "metrics": result.metrics,
        "rounding": rounding_summary(result),
        "components": {"nodes": len(result.nodes),
                       "elements": result.graph.number_of_edges()},
        "timings_s": result.timings_s,
    }


def _write_waveforms(result, path: Path) -> None:
    probes = probe_nodes(result.design)
    column = {node: k for k, node in enumerate(result.nodes)}
    keys = [k for k in ("spice", "twin", "reference", "spice_rounded") if k in result.voltages]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_s", "time_model"] + [f"{name}_{key}_v" for name in probes
                                                    for key in keys])
        for row, (t, tm) in enumerate(zip(result.time_s, result.model_time)):
            values = [result.voltages[key][row, column[node]] for node in probes.values()
                      for key in keys]
            writer.writerow([f"{t:.9e}", f"{tm:.9e}"] + [f"{v:.9e}" for v in values])


def export_run(result, out: Path) -> Path:
    """Write the run folder ``out`` atomically and return its path."""
    with atomic_folder(out) as folder:
        (folder / "netlist.cir").write_text(result.netlist)
        (folder / "netlist_quantized.cir").write_text(result.rounded_netlist)
        (folder / "bom.csv").write_text(bom_csv(result.rounded_graph))
        record = results_record(result)
        (folder / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        _write_waveforms(result, folder / "waveforms.csv")
        plot_fields(result, folder)
        plot_errors(result, folder / "errors.png")
        write_report(result, record, folder / "report.md")
    return Path(out)
