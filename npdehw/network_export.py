"""The run folder of a crossbar network design."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from npdehw.export import versions  # noqa: E402
from npdehw.hw.bom import bom_csv  # noqa: E402
from npdehw.hw.crossbar import programming_table_csv, tile_mapping  # noqa: E402
from npdehw.network_qat import crossbar_for  # noqa: E402
from npdehw.network_training_report import plot_training, training_section  # noqa: E402
from npdehw.network_writeback import (  # noqa: E402
    trained_levels,
    trained_parameters_csv,
    trained_programming_table,
)
from npdehw.physics_aware import hardware_network  # noqa: E402
from npdehw.plots import plot_loss  # noqa: E402
from npdehw.runfolder import atomic_folder  # noqa: E402
from npdehw.sim.crossbar_run import crossbar_netlist  # noqa: E402

__all__ = ["export_network_run"]

_SPICE_SAMPLES_IN_NETLIST = 20


def _programming_table(network, design) -> str:
    parts = []
    for number, layer in enumerate(network.layers):
        tiles = tile_mapping(layer.mapping, design.max_rows, design.max_cols)
        text = programming_table_csv(layer.mapping, tiles)
        lines = text.splitlines()
        header, rows = lines[0], lines[1:]
        if number == 0:
            parts.append("layer," + header)
        parts += [f"{number},{row}" for row in rows]
    return "\n".join(parts) + "\n"


def _plot_accuracy(result, path: Path) -> None:
    variants = result.metrics["variants"]
    names = list(variants)
    figure, axis = plt.subplots(figsize=(7, 4), constrained_layout=True)
    positions = range(len(names))
    axis.bar([p - 0.2 for p in positions], [100 * variants[n]["twin_accuracy"] for n in names],
             width=0.4, label="twin")
    axis.bar([p + 0.2 for p in positions],
             [100 * variants[n].get("spice_accuracy", float("nan")) for n in names],
             width=0.4, label="ngspice")
    axis.axhline(100 * result.metrics["float_accuracy_full_test_set"], color="black",
                 linestyle="--", label="float network")
    axis.set_xticks(list(positions), names)
    axis.set_ylabel("held-out accuracy (%)")
    axis.set_ylim(80, 100)
    axis.legend(loc="lower left")
    axis.set_title(f"{result.design.name}: accuracy per crossbar variant")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _report(result) -> str:
    metrics = result.metrics
    lines = [f"# {result.design.name}", "", result.design.description, "",
             f"Float network, whole held-out set: "
             f"{100 * metrics['float_accuracy_full_test_set']:.2f} %.", "",
             "| variant | twin accuracy (samples) | ngspice accuracy (samples) | "
             "twin on the same samples | class agreement | max output difference |",
             "|---|---|---|---|---|---|"]
    for name, entry in metrics["variants"].items():
        spice = (f"{100 * entry['spice_accuracy']:.2f} % ({entry['spice_samples']})"
                 if "spice_accuracy" in entry else "not run")
        same = (f"{100 * entry['twin_accuracy_same_samples']:.2f} %"
                if "spice_accuracy" in entry else "")
        agreement = (f"{100 * entry['class_agreement']:.1f} %" if "class_agreement" in entry
                     else "")
        difference = (f"{entry['max_output_difference']:.2e}" if "max_output_difference"
                      in entry else "")
        lines.append(f"| {name} | {100 * entry['twin_accuracy']:.2f} % "
                     f"({entry['twin_samples']}) | {spice} | {same} | {agreement} | "
                     f"{difference} |")
    lines += ["", "Throughput (samples per second):", ""]
    for name, entry in metrics["variants"].items():
        spice = entry.get("spice_samples_per_second")
        lines.append(f"- {name}: twin {entry['twin_samples_per_second']:.0f}"
                     + (f", ngspice {spice:.1f}" if spice else ""))
    lines += ["", "Files: `netlist.cir` (ideal conductances), `netlist_quantized.cir`, "
              f"each with the first {_SPICE_SAMPLES_IN_NETLIST} samples as input steps; "
              "`programming_table.csv` (per device: tile, row, column, target and "
              "programmed conductance, level index); `bom.csv`; `results.json`.", "",
              "![accuracy](accuracy.png)", ""]
    final = _final_network(result)
    if final is not None:
        lines += [f"The trained network to program is `{final}` "
                  f"({trained_levels(result.design, final)} levels): "
                  "`netlist_trained.cir` (with the sense resistance where physics-aware "
                  "training ran) and `programming_table_trained.csv` (with the parameter "
                  "and epoch of each device); `bom.csv` lists its parts. "
                  "`trained_parameters.csv` lists every "
                  "trained network's devices: the PTQ value they started from, the "
                  "trained value, the parameter and the epoch.", ""]
    if len(result.histories) > 1 or "quantization" in metrics:
        lines += training_section(result)
    return "\n".join(lines)


def _final_network(result) -> str | None:
    """Return the trained network to program: physics-aware, else QAT at the design's levels."""
    if "physics_aware" in result.trained:
        return "physics_aware"
    name = f"qat_{result.design.device.levels}"
    return name if name in result.trained else None


def _trained_network(result, final: str):
    layers = result.trained[final]
    if final == "physics_aware":
        sense_ohm = result.design.training.physics_aware.sense_ohm
        return hardware_network(result.design, layers, sense_ohm)
    return crossbar_for(result.design, layers)


def _write_trained(result, folder: Path, inputs, network) -> None:
    if len(result.trained) > 1:
        (folder / "trained_parameters.csv").write_text(trained_parameters_csv(result))
    labels = {"float": "float (with weight decay)"}
    plot_loss({labels.get(name, name.replace("_", " ")): history
               for name, history in result.histories.items()},
              folder / "loss.png", ylabel="training loss (cross-entropy)")
    if len(result.trained) > 1:
        plot_training(result, folder / "training.png")
    final = _final_network(result)
    if final is None:
        return
    (folder / "netlist_trained.cir").write_text(crossbar_netlist(network, inputs,
                                                                 result.design.name))
    (folder / "programming_table_trained.csv").write_text(
        trained_programming_table(result, final))


def export_network_run(result, out: Path) -> Path:
    """Write the run folder of a crossbar network design atomically."""
    inputs = result.netlist_inputs[:_SPICE_SAMPLES_IN_NETLIST]
    with atomic_folder(out) as folder:
        for name, file in (("ideal", "netlist.cir"), ("quantized", "netlist_quantized.cir")):
            (folder / file).write_text(crossbar_netlist(result.networks[name], inputs,
                                                        result.design.name))
        quantized = result.networks["quantized"]
        (folder / "programming_table.csv").write_text(_programming_table(quantized,
                                                                         result.design))
        final = _final_network(result)
        built = quantized if final is None else _trained_network(result, final)
        (folder / "bom.csv").write_text(bom_csv(built.graph))
        record = {"design": {"name": result.design.name, "file": str(result.design.source)},
                  "versions": versions(), "metrics": result.metrics,
                  "timings_s": result.timings_s}
        (folder / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        (folder / "report.md").write_text(_report(result))
        _plot_accuracy(result, folder / "accuracy.png")
        _write_trained(result, folder, inputs, built)
    return Path(out)
