"""Time the circuit-graph build and the netlist write of heat2d from 10 x 10 to 200 x 200 grids.

For each N x N grid the script resizes the bundled heat2d design as
bench/bench_spice_twin.py does, with the domain length kept at [1, 1]. It then
times ``npdehw.hw.builder.build_circuit`` and ``npdehw.hw.netlist.write_netlist``
(which runs the circuit checks first). These are the two calls of the pipeline's
map stage before rounding. The repetitions interleave the sizes; tables report
medians. A least-squares line ``t = a + b * elements`` is fitted to each
series, and the time per element at each size shows how far the cost is from
linear. The target is build plus write under 2 s at 100 x 100.

Usage:
    .venv/bin/python bench/bench_build_scaling.py [--sizes 10 20 ... 100 200]
        [--repeats 3] [--out docs/benchmarks.md] [--plot docs/build_scaling.png]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402

from bench_spice_twin import design_at_size, git_revision, load_average  # noqa: E402
from markdown_section import write_section  # noqa: E402
from npdehw.design import load_design  # noqa: E402
from npdehw.hw.builder import build_circuit  # noqa: E402
from npdehw.hw.netlist import write_netlist  # noqa: E402
from npdehw.pipeline import transient_analysis, probe_nodes  # noqa: E402

START = "<!-- bench_build_scaling: start -->"
END = "<!-- bench_build_scaling: end -->"
TARGET_SIZE = 100
TARGET_S = 2.0
DEFAULT_SIZES = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200]


def measure_once(design) -> dict:
    """Build and write one design; return the seconds of each and the circuit's size."""
    start = time.perf_counter()
    graph = build_circuit(design.npde, design.mapping)
    built = time.perf_counter()
    text = write_netlist(graph, transient_analysis(design), title=design.name,
                         probes=list(probe_nodes(design).values()))
    written = time.perf_counter()
    return {"build": built - start, "write": written - built, "elements": graph.number_of_edges(),
            "nodes": graph.number_of_nodes(), "bytes": len(text)}


def measure(sizes: list[int], repeats: int) -> list[dict]:
    """Return one row per size with the median seconds over ``repeats`` interleaved rounds."""
    base = load_design("heat2d")
    designs = {n: design_at_size(base, n) for n in sizes}
    runs = {n: [] for n in sizes}
    for n in sizes:
        measure_once(designs[n])  # warm-up, not timed
    for repeat in range(repeats):
        for n in sizes:
            runs[n].append(measure_once(designs[n]))
        print(f"round {repeat + 1} of {repeats} done", file=sys.stderr)
    rows = []
    for n in sizes:
        first = runs[n][0]
        build = statistics.median(run["build"] for run in runs[n])
        write = statistics.median(run["write"] for run in runs[n])
        totals = [run["build"] + run["write"] for run in runs[n]]
        rows.append({"n": n, "elements": first["elements"], "nodes": first["nodes"],
                     "bytes": first["bytes"], "build": build, "write": write,
                     "total": statistics.median(totals),
                     "total_range": (min(totals), max(totals))})
    return rows


def fit_line(rows: list[dict], key: str) -> dict:
    """Return the least-squares ``a + b * elements`` fit of one series and its R^2."""
    x = np.array([row["elements"] for row in rows], dtype=float)
    y = np.array([row[key] for row in rows])
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    spread = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 1.0
    return {"intercept_s": float(intercept), "slope_s": float(slope), "r2": r2}


def plot(rows: list[dict], fits: dict, path: Path) -> None:
    """Draw the times against the element count, with the fitted lines and times per element."""
    x = np.array([row["elements"] for row in rows], dtype=float)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    line = np.linspace(0, x.max(), 50)
    for key, label in (("build", "build_circuit"), ("write", "write_netlist"),
                       ("total", "build + write")):
        y = np.array([row[key] for row in rows])
        fit = fits[key]
        shown = left.plot(x, y, "o", label=label)[0]
        left.plot(line, fit["intercept_s"] + fit["slope_s"] * line, "-",
                  color=shown.get_color(), alpha=0.6)
        right.plot(x, 1e6 * y / x, "o-", color=shown.get_color(), label=label)
    left.axhline(TARGET_S, color="grey", linestyle=":", label=f"{TARGET_S:.0f} s target")
    left.set_xlabel("elements (components in the circuit graph)")
    left.set_ylabel("seconds (median)")
    left.set_title("heat2d N x N: time and least-squares lines")
    left.legend()
    right.set_xscale("log")
    right.set_xlabel("elements")
    right.set_ylabel("microseconds per element")
    right.set_title("flat means linear scaling")
    right.set_ylim(bottom=0)
    right.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def render(rows: list[dict], fits: dict, repeats: int, plot_link: str | None,
           load_before: str) -> str:
    """Return the Markdown section between the markers."""
    target = next((row for row in rows if row["n"] == TARGET_SIZE), None)
    command = " ".join([".venv/bin/python", "bench/bench_build_scaling.py"]
                       + [shlex.quote(a) for a in sys.argv[1:]])
    lines = [START, "## Circuit build and netlist write against grid size "
             "(bench/bench_build_scaling.py)", "",
             f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `{command}`",
             f"- python {platform.python_version()}, networkx {nx.__version__}, "
             f"git {git_revision()}",
             f"- 1-minute load average (start / end): {load_before} / {load_average()}",
             f"- repetitions: {repeats} per size after one untimed warm-up, interleaved over "
             "the sizes; medians",
             "- write_netlist includes the circuit checks it runs first",
             "- both calls pause Python's cyclic garbage collector "
             "(npdehw.hw.graph.paused_gc): its full collections walk every component dict "
             "and made the 200x200 build about twice as slow", ""]
    if target is not None:
        verdict = "met" if target["total"] < TARGET_S else "missed"
        lines += [f"At {TARGET_SIZE}x{TARGET_SIZE} build plus write takes "
                  f"{target['total']:.2f} s (target under {TARGET_S:.0f} s: {verdict}).", ""]
    lines += ["| grid | nodes | elements | netlist MB | build s | write s | total s "
              "(min - max) | total us per element |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        low, high = row["total_range"]
        lines.append(f"| {row['n']}x{row['n']} | {row['nodes']} | {row['elements']} | "
                     f"{row['bytes'] / 1e6:.2f} | {row['build']:.3f} | {row['write']:.3f} | "
                     f"{row['total']:.3f} ({low:.3f} - {high:.3f}) | "
                     f"{1e6 * row['total'] / row['elements']:.1f} |")
    lines += ["", "Least-squares lines over all sizes, t = a + b * elements:", "",
              "| series | a ms | b us per element | R^2 |", "|---|---:|---:|---:|"]
    for key, fit in fits.items():
        lines.append(f"| {key} | {1e3 * fit['intercept_s']:.1f} | {1e6 * fit['slope_s']:.2f} | "
                     f"{fit['r2']:.4f} |")
    if plot_link is not None:
        lines += ["", f"![build and write time against elements]({plot_link})"]
    return "\n".join(lines + [END]) + "\n"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES,
                        help=f"grid sizes N of the N x N grids (default: {DEFAULT_SIZES})")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed repetitions per size (default: 3)")
    parser.add_argument("--out", type=Path, help="Markdown file whose section is replaced")
    parser.add_argument("--plot", type=Path,
                        help="PNG of the times against the element count (next to --out)")
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1 or any(n < 2 for n in arguments.sizes):
        parser.error("--repeats must be at least 1 and every size at least 2")
    if len(arguments.sizes) < 2:
        parser.error("give at least two sizes to fit a line")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    load_before = load_average()
    rows = measure(sorted(set(arguments.sizes)), arguments.repeats)
    fits = {key: fit_line(rows, key) for key in ("build", "write", "total")}
    if arguments.plot is not None:
        plot(rows, fits, arguments.plot)
        print(f"wrote {arguments.plot}", file=sys.stderr)
    link = None
    if arguments.plot is not None:
        folder = arguments.out.parent if arguments.out is not None else Path.cwd()
        link = os.path.relpath(arguments.plot, folder)
    section = render(rows, fits, arguments.repeats, link, load_before)
    print(section)
    if arguments.out is not None:
        write_section(arguments.out, section, START, END)
        print(f"wrote {arguments.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
