"""The training section of a crossbar network's report: float, PTQ, QAT, physics-aware."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_training", "training_section"]


def _percent(value) -> str:
    return "" if value is None else f"{100 * value:.2f} %"


def _accuracy_rows(metrics: dict) -> list[str]:
    ideal = metrics["variants"]["ideal"]
    rows = [f"| float | continuous | ideal conductances | {_percent(ideal['twin_accuracy'])} "
            f"| {_percent(ideal.get('spice_accuracy'))} |"]
    for levels, methods in metrics.get("quantization", {}).get("levels", {}).items():
        for method, variants in methods.items():
            for variant, entry in variants.items():
                label = ("quantized" if variant == "quantized" else
                         "programmed: noise and stuck-at faults")
                rows.append(f"| {method.upper()} | {levels} | {label} | "
                            f"{_percent(entry['twin_accuracy'])} | "
                            f"{_percent(entry['spice_accuracy'])} |")
    aware = metrics.get("physics_aware")
    if aware:
        hardware = (f"quantized; ngspice adds a {aware['sense_ohm']:g} ohm column sense "
                    "resistance, the twin does not")
        levels = aware["levels"]
        rows.append(f"| trained on the twin (float, PTQ) | {levels} | {hardware} | "
                    f"{_percent(aware['twin_accuracy'])} | "
                    f"{_percent(aware['spice_accuracy_before'])} |")
        rows.append(f"| physics-aware | {levels} | {hardware} | "
                    f"{_percent(aware['twin_accuracy_after'])} | "
                    f"{_percent(aware['spice_accuracy_after'])} |")
    return rows


def _bars(metrics: dict) -> list[tuple[str, float, float]]:
    """Return ``(label, twin accuracy, ngspice accuracy)`` per network, quantized variants."""
    ideal = metrics["variants"]["ideal"]
    bars = [("float", ideal["twin_accuracy"], ideal.get("spice_accuracy", float("nan")))]
    for levels, methods in metrics.get("quantization", {}).get("levels", {}).items():
        for method, variants in methods.items():
            entry = variants["quantized"]
            bars.append((f"{method.upper()} {levels}", entry["twin_accuracy"],
                         entry["spice_accuracy"]))
    aware = metrics.get("physics_aware")
    if aware:
        bars.append((f"twin-trained\n+{aware['sense_ohm']:g} ohm", aware["twin_accuracy"],
                     aware["spice_accuracy_before"]))
        bars.append((f"physics-aware\n+{aware['sense_ohm']:g} ohm",
                     aware["twin_accuracy_after"], aware["spice_accuracy_after"]))
    return bars


def plot_training(result, path: Path) -> None:
    """Draw the held-out accuracy of each network in the twin and in ngspice."""
    bars = _bars(result.metrics)
    figure, axis = plt.subplots(figsize=(max(6, 1.1 * len(bars)), 4), constrained_layout=True)
    positions = range(len(bars))
    axis.bar([p - 0.2 for p in positions], [100 * twin for _, twin, _ in bars], width=0.4,
             label="twin")
    axis.bar([p + 0.2 for p in positions], [100 * spice for _, _, spice in bars], width=0.4,
             label="ngspice")
    axis.set_xticks(list(positions), [label for label, _, _ in bars], fontsize=8)
    low = min(min(twin, spice) for _, twin, spice in bars)
    axis.set_ylim(max(0, 100 * low - 5), 100)
    axis.set_ylabel("held-out accuracy (%)")
    axis.legend(loc="lower left")
    axis.set_title(f"{result.design.name}: float, PTQ, QAT and physics-aware training")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _gap_lines(aware: dict | None) -> list[str]:
    if not aware:
        return []
    gap = aware["twin_accuracy"] - aware["spice_accuracy_before"]
    won = aware["spice_accuracy_after"] - aware["spice_accuracy_before"]
    share = ("" if aware["gap_closed"] is None
             else f", {100 * aware['gap_closed']:.0f} % of it")
    return ["", f"The twin leaves out the sense resistance, so the network trained on it "
            f"loses {100 * gap:.2f} percentage points in ngspice. Physics-aware training, "
            f"with ngspice in the forward pass and the twin's gradient, won back "
            f"{100 * won:.2f} points{share}."]


def _run_rows(training: dict) -> list[str]:
    rows = ["| training run | epochs | best epoch | best loss | resumed after epoch | "
            "seconds |", "|---|---|---|---|---|---|"]
    for name, record in training.items():
        rows.append(f"| {name} | {record['epochs']} | {record['best_epoch']} | "
                    f"{record['best_loss']:.4g} | {record['resumed_at'] or ''} | "
                    f"{record['seconds']:.1f} |")
    return rows


def training_section(result) -> list[str]:
    """Return the report lines that compare the trained networks, as Markdown."""
    metrics = result.metrics
    noise = metrics.get("quantization", {}).get("injected_noise")
    injected = "" if noise is None else f" (relative standard deviation {noise:g})"
    lines = ["## Training", "",
             f"Held-out accuracy on {len(result.labels)} samples. Twin: the DC twin. "
             "ngspice: the circuit. PTQ rounds the float network's conductances to the "
             "levels. QAT fine-tunes through the rounding (straight-through estimator) "
             f"and injects programming noise{injected}. The programmed variant draws the "
             "device's programming noise and stuck-at faults once, with the network seed.",
             "",
             "| network | levels | hardware | twin | ngspice |", "|---|---|---|---|---|"]
    lines += _accuracy_rows(metrics)
    lines += _gap_lines(metrics.get("physics_aware"))
    lines += ["", "![training](training.png)", "", *_run_rows(metrics["training"]), "",
              "![loss](loss.png)", ""]
    return lines
