"""The report.md of a sweep: what was sampled, yield per setting, the distribution plot."""

from __future__ import annotations

__all__ = ["report_markdown"]

MAX_LISTED_FAILURES = 10


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _number(value) -> str:
    return "-" if value is None else f"{value:.3e}"


def _parts_text(parts: dict) -> str:
    if not parts:
        return "no toleranced parts"
    return "; ".join(f"{entry['count']} {kind}s, {entry['series'] or 'unrounded'}, tolerance "
                     f"{100 * entry['tolerance']:g} %" for kind, entry in parts.items())


def _devices_text(parts: dict) -> str:
    device = parts["memristor"]
    return (f"{device['count']} memristors on {device['levels']} levels, programming noise "
            f"{device['programming_noise']:g}, stuck at g_min {device['stuck_min_rate']:g}, "
            f"stuck at g_max {device['stuck_max_rate']:g}; "
            f"{parts['held_out_samples']} held-out digits per sample")


GRID_TEXT = ("Each sample is a full ngspice run of the rounded circuit with every resistor and "
             "capacitor drawn around its marked value. Yield is the share of simulated "
             "samples within the specification, with the Wilson score interval. The nominal "
             "column is the rounded circuit with no tolerance, so it shows the rounding "
             "error alone.")
NETWORK_TEXT = ("Each sample programs the crossbars of the trained network with its own "
                "programming noise and stuck-at faults (ideal wires) and runs the held-out "
                "digits through them in ngspice. Yield is the share of simulated samples "
                "within the specification, with the Wilson score interval. The nominal "
                "column is the quantized crossbars with every device at its level, so it "
                "shows the quantization error alone.")


def _yield_rows(results: dict) -> list[str]:
    figure = results["sweep"]["figure"]
    rows = [f"| setting | yield | 95 % interval | passed / simulated | failed | missing | "
            f"nominal parts {figure} | median | p95 | max |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for entry in results["settings"]:
        interval = entry["yield_interval_95"]
        interval_text = "-" if interval is None else (f"{_percent(interval[0])} - "
                                                      f"{_percent(interval[1])}")
        stats = entry["statistics"]
        nominal = entry["nominal"][figure] if entry["nominal"] else None
        rows.append(f"| {entry['label']} | {_percent(entry['yield'])} | {interval_text} | "
                    f"{entry['passed']} / {entry['samples_done']} | "
                    f"{entry['samples_failed']} | "
                    f"{entry['samples_missing']} | {_number(nominal)} | "
                    f"{_number(stats.get('p50'))} | {_number(stats.get('p95'))} | "
                    f"{_number(stats.get('max'))} |")
    return rows


def _failure_lines(results: dict) -> list[str]:
    lines = []
    for entry in results["settings"]:
        for failure in entry["failures"][:MAX_LISTED_FAILURES]:
            name = "nominal" if failure["sample"] < 0 else f"sample {failure['sample']}"
            lines.append(f"- {entry['label']}, {name}: {failure['error_line']}")
    if not lines:
        return []
    return ["## Failed samples", "", "Full messages are in the sample files under "
            "`samples/` and in `samples.csv`.", "", *lines, ""]


def _distribution_lines(results: dict) -> list[str]:
    if not any(entry["samples_done"] for entry in results["settings"]):
        return []
    return ["## Distribution", "", "![histogram and CDF](distribution.png)", ""]


def report_markdown(results: dict, command: str) -> str:
    """Return the Markdown report of a sweep."""
    sweep, design, run = results["sweep"], results["design"], results["run"]
    parts = results["settings"][0]["parts"] if results["settings"] else {}
    network = sweep.get("kind") == "network"
    parts_text = _devices_text(parts) if network and parts else _parts_text(parts)
    lines = [
        f"# Sweep of {design['name']}", "",
        f"- design: `{design['file']}` (SHA-256 {design['sha256'][:12]}), "
        f"{design['description']}",
        f"- command: `{command}`",
        f"- settings: {len(results['settings'])}; Monte Carlo samples per setting: "
        f"{sweep['samples_per_setting']}, seed {sweep['seed']}",
        f"- parts perturbed (first setting): {parts_text}",
        f"- deviation of each part: {sweep['distribution_text']}",
        f"- figure of merit `{sweep['figure']}`: {sweep['figure_text']}",
        f"- specification: {sweep['spec_text']}",
        f"- this run: {run['done']} samples finished and {run['failed']} failed in "
        f"{run['wall_s']:.1f} s on {run['cluster']}; {run['stored_before']} were stored "
        "before", "",
        NETWORK_TEXT if network else GRID_TEXT, "",
        "## Yield", "", *_yield_rows(results), "",
        *_distribution_lines(results),
        *_failure_lines(results),
        "## Files", "",
        "- `results.json`: every figure above, the options, versions and timings",
        "- `samples.csv`: one row per sample with all figures and the worker's memory",
        "- `samples/`: one JSON file per sample; rerunning the command skips them",
    ]
    return "\n".join(lines) + "\n"
