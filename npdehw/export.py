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

__all__ = ["RUN_FILES", "TILES_NOTE", "export_run", "results_record", "tiles_record"]

RUN_FILES = ("netlist.cir", "netlist_quantized.cir", "bom.csv", "results.json", "report.md",
             "waveforms.csv", "fields.png", "errors.png")


_PACKAGES = ("PySpice", "torch", "numpy", "scipy", "networkx")


def versions(packages=_PACKAGES, ngspice: str | None = None) -> dict:
    """Return the versions of npdehw, Python, ngspice and ``packages`` for results.json.

    ``ngspice`` is the version text when the caller already has it, as a sweep does
    from its workers. Without it the ngspice library is loaded here for its version.
    """
    versions = {"npdehw": npdehw.__version__, "python": platform.python_version(),
                "ngspice": ngspice_version() if ngspice is None else ngspice}
    for package in packages:
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


TILES_NOTE = ("ngspice ran each circuit in tiles, not as one circuit. Every tile simulated "
              "its own block of grid nodes, with the neighbouring grid nodes (its halo) "
              "driven by the twin's voltages as piecewise-linear sources, and the tiles' own "
              "nodes were stitched back together. Every ngspice figure in the metrics uses "
              "the stitched tiles. Agreement with the twin shows that each tile circuit, "
              "given the twin's voltages at its boundary, computes in SPICE what the twin "
              "computes; it does not check the twin's boundary voltages themselves, which "
              "one ngspice run of the whole circuit (--spice full) does.")


def _tile_report_record(report) -> dict:
    """Return a TileReport's agreement, per-tile rows and timings, ready for JSON."""
    per_tile = [{**row, "block": [list(bounds) for bounds in row["block"]]}
                for row in report.per_tile]
    # The run's one cluster starts before the first circuit, so its start time is in
    # the cluster record and not in each circuit's timings.
    timings = {key: value for key, value in report.timings_s.items() if key != "cluster_start"}
    return {"summary": report.summary(), "metrics": report.metrics,
            "worst_tile_relative_l2": max(row["relative_l2"] for row in report.per_tile),
            "per_tile": per_tile, "timings_s": timings}


def tiles_record(tiles: dict) -> dict:
    """Return the record of ngspice in tiles: the split, the cluster and both circuits."""
    options = tiles["options"]
    ideal = tiles["ideal"]
    return {"note": TILES_NOTE, "tiles": list(tiles["counts"]), "overlap": ideal.overlap,
            "halo_rtol": options.halo_rtol,
            "halo_source": "the twin of the same circuit (ideal or rounded)",
            "twin": {"method": ideal.options["twin_method"],
                     "steps": ideal.options["twin_steps"]},
            "cluster": tiles["cluster"],
            "ideal": _tile_report_record(ideal),
            "rounded": _tile_report_record(tiles["rounded"])}


def results_record(result) -> dict:
    """Return the JSON-ready record of a run: metrics, run record, timings."""
    record = _run_record(result)
    if result.tiles is not None:
        record["spice_mode"] = "tiles"
        record["spice_tiles"] = tiles_record(result.tiles)
    return record


def _run_record(result) -> dict:
    design = result.design
    return {
        "design": {"name": design.name, "description": design.description,
                   "file": str(design.source)},
        "versions": versions(),
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
