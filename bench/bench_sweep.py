"""Monte Carlo sweeps on Dask: yield of heat2d, speed-up on two workers, worker memory.

Three measurements, each through ``npdehw.sweep_job.run_sweep`` (what ``npdehw sweep``
runs) with fresh sweep folders in a temporary directory:

(a) ``--samples`` Monte Carlo samples of the bundled heat2d (32 x 32, E96 resistors,
    E12 capacitors, normal deviations with sigma = tolerance / 3 truncated at the
    tolerance) on a local cluster of two worker processes: yield against the
    specification and the distribution of the relative L2 error.
(b) The same sweep on one worker process, run right after (a). The speed-up is the
    ratio of the two sample phases, which leave out the cluster start-up (shown apart).
    Both runs must give identical figures.
(c) ``--memory-runs`` ngspice runs of heat2d on a 30 x 30 grid on one worker process:
    its resident memory (psutil, after each run) at run 50 against the last run.

With ``--out`` the script replaces its own section of the Markdown file.

Usage:
    .venv/bin/python bench/bench_sweep.py [--samples 200] [--memory-runs 500]
        [--spec 0.01] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from markdown_section import write_section
from npdehw.sweep_job import SweepRequest, run_sweep
from npdehw.sweep_options import SweepOptions, parse_variation
from npdehw.sweep_store import SweepFolder

START, END = "<!-- bench_sweep: start -->", "<!-- bench_sweep: end -->"
MEMORY_BASELINE_RUN = 50
SPEEDUP_TARGET = 1.7
MEMORY_TARGET = 0.10


def read_first(path: str, key: str) -> str:
    """Return the value of the first ``key: value`` line of a /proc file, or ``unknown``."""
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text(encoding="utf-8").split()[0]
    except OSError:
        return "unknown"


def timed_sweep(folder: Path, options: SweepOptions, workers: int) -> tuple[dict, float]:
    """Run one sweep into ``folder``; return its results and the whole call's seconds."""
    start = time.perf_counter()
    _, results = run_sweep(SweepRequest(design="heat2d", options=options, out=folder,
                                        workers=workers, command="bench/bench_sweep.py"))
    return results, time.perf_counter() - start


def figures_of(folder: Path) -> dict:
    stored = SweepFolder(folder, {}, True).records()
    return {key: record.get("figures") for key, record in stored.items()}


def mean_sample_seconds(folder: Path) -> float:
    """Return the mean time a worker spent on one sample (netlist, ngspice, scoring)."""
    stored = SweepFolder(folder, {}, True).records().values()
    return statistics.mean(r["sample_s"] for r in stored if r["status"] == "done")


def measure_yield_and_speedup(root: Path, samples: int, spec: float) -> dict:
    options = SweepOptions(samples=samples, seed=0, spec=spec)
    two, two_total = timed_sweep(root / "two", options, 2)
    one, one_total = timed_sweep(root / "one", options, 1)
    identical = figures_of(root / "two") == figures_of(root / "one")
    return {"results": two, "two_total": two_total, "one_total": one_total,
            "two_per_sample": mean_sample_seconds(root / "two"),
            "one_per_sample": mean_sample_seconds(root / "one"),
            "two_samples_s": two["run"]["samples_s"], "one_samples_s": one["run"]["samples_s"],
            "identical": identical}


def measure_memory(root: Path, runs: int) -> dict:
    options = SweepOptions(samples=runs - 1, seed=0, spec=1.0,
                           variations=(parse_variation("npde.shape=[30,30]"),))
    results, total = timed_sweep(root / "memory", options, 1)
    stored = SweepFolder(root / "memory", {}, True).records().values()
    by_run = {r["worker_runs"]: r["worker_rss_bytes"] for r in stored if r["status"] == "done"}
    pids = {r["worker_pid"] for r in stored if r["status"] == "done"}
    last = max(by_run)
    return {"by_run": by_run, "pids": pids, "last": last, "total_s": total,
            "baseline": by_run.get(MEMORY_BASELINE_RUN), "final": by_run[last],
            "failed": results["settings"][0]["samples_failed"]}


def environment(load_before: str, arguments) -> list[str]:
    import importlib.metadata

    memory_kib = read_first("/proc/meminfo", "MemTotal").split()[0]
    memory = f"{int(memory_kib) / 2**20:.1f} GiB" if memory_kib.isdigit() else "unknown"
    command = (f".venv/bin/python bench/bench_sweep.py --samples {arguments.samples} "
               f"--memory-runs {arguments.memory_runs} --spec {arguments.spec:g}"
               + (f" --out {arguments.out}" if arguments.out else ""))
    return [f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- cpus: {os.cpu_count()} ({read_first('/proc/cpuinfo', 'model name')}), "
            f"memory {memory}",
            f"- 1-minute load average (start / end): {load_before} / {load_average()}",
            f"- python {platform.python_version()}, dask "
            f"{importlib.metadata.version('dask')}, distributed "
            f"{importlib.metadata.version('distributed')}, psutil "
            f"{importlib.metadata.version('psutil')}"]


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def yield_lines(speed: dict, spec: float) -> list[str]:
    entry = speed["results"]["settings"][0]
    stats, parts = entry["statistics"], entry["parts"]
    low, high = entry["yield_interval_95"]
    part_text = ", ".join(f"{p['count']} {kind}s {p['series']} ({100 * p['tolerance']:g} %)"
                          for kind, p in parts.items())
    return [
        "### (a) Monte Carlo yield of heat2d", "",
        f"{entry['samples_requested']} samples of the bundled heat2d (32 x 32 nodes; "
        f"{part_text}), each a full ngspice run, scored against the twin of the ideal "
        f"circuit. Deviations: {speed['results']['sweep']['distribution_text']}. Seed 0.", "",
        "| spec (relative L2) | yield | 95 % interval (Wilson) | failed | nominal parts | "
        "mean | median | p95 | max |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {spec:g} | {100 * entry['yield']:.1f} % | {100 * low:.1f} - {100 * high:.1f} % | "
        f"{entry['samples_failed']} | {entry['nominal']['relative_l2']:.3e} | "
        f"{stats['mean']:.3e} | {stats['p50']:.3e} | {stats['p95']:.3e} | "
        f"{stats['max']:.3e} |", ""]


def speedup_lines(speed: dict) -> list[str]:
    ratio = speed["one_samples_s"] / speed["two_samples_s"]
    return [
        "### (b) Two worker processes against one", "",
        "The same sweep (same seed) ran on a local cluster of two worker processes and "
        "then of one. Sample phase: from the moment the nominal results reached every "
        "worker (so after the workers imported npdehw) until the last sample is stored. "
        "Whole call: also loading the design, the nominal twins, starting and closing the "
        "cluster, the workers' imports and writing the summary. Seconds per sample is the "
        "mean time a worker spent on one sample; when it grows with two workers, the two "
        "processes did not each get a free core.", "",
        "| workers | sample phase s | whole call s | seconds per sample |",
        "|---:|---:|---:|---:|",
        f"| 1 | {speed['one_samples_s']:.1f} | {speed['one_total']:.1f} | "
        f"{speed['one_per_sample']:.3f} |",
        f"| 2 | {speed['two_samples_s']:.1f} | {speed['two_total']:.1f} | "
        f"{speed['two_per_sample']:.3f} |", "",
        f"- speed-up of the sample phase: {ratio:.2f}x (target >= {SPEEDUP_TARGET}x: "
        f"{_verdict(ratio >= SPEEDUP_TARGET)}); whole call "
        f"{speed['one_total'] / speed['two_total']:.2f}x",
        f"- figures identical on one and two workers: {speed['identical']}", ""]


def memory_lines(memory: dict) -> list[str]:
    rows = [run for run in (1, 10, MEMORY_BASELINE_RUN, 100, 200, 300, 400, memory["last"])
            if run in memory["by_run"]]
    growth = memory["final"] / memory["baseline"] - 1 if memory["baseline"] else float("nan")
    lines = [
        "### (c) Worker memory over many ngspice runs", "",
        f"One worker process ran {memory['last']} ngspice runs of heat2d on a 30 x 30 grid "
        f"(`--vary npde.shape=[30,30]`) in {memory['total_s']:.0f} s; resident set size "
        "(psutil) right after each run. Worker processes seen: "
        f"{len(memory['pids'])}; failed runs: {memory['failed']}.", "",
        "| run | RSS MiB |", "|---:|---:|"]
    lines += [f"| {run} | {memory['by_run'][run] / 2**20:.1f} |" for run in rows]
    lines += ["", f"- growth from run {MEMORY_BASELINE_RUN} to run {memory['last']}: "
              f"{100 * growth:+.2f} % (target within {100 * MEMORY_TARGET:g} %: "
              f"{_verdict(abs(growth) <= MEMORY_TARGET)})", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="Monte Carlo samples in (a)")
    parser.add_argument("--memory-runs", type=int, default=500, help="ngspice runs in (c)")
    parser.add_argument("--spec", type=float, default=0.01, help="largest passing relative L2")
    parser.add_argument("--out", type=Path, help="Markdown file whose section is replaced")
    arguments = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as temporary:
        root = Path(temporary)
        speed = measure_yield_and_speedup(root, arguments.samples, arguments.spec)
        memory = measure_memory(root, arguments.memory_runs)
    lines = [START, "## Monte Carlo sweeps on Dask (bench/bench_sweep.py)", "",
             *environment(load_before, arguments), "", *yield_lines(speed, arguments.spec),
             *speedup_lines(speed), *memory_lines(memory), END]
    text = "\n".join(lines)
    print(text)
    if arguments.out:
        write_section(arguments.out, text, START, END)


if __name__ == "__main__":
    main()
