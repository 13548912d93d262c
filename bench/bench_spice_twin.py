"""Benchmark the ngspice stage and the torch twin on the heat2d design at several grid sizes.

For each N x N grid (default 16, 32, 50) the script builds the bundled heat2d
design at that size with the domain length kept at [1, 1]. It writes the netlist
as the pipeline's map stage does and checks that the circuit's coupling rates
match D / h^2 at that size. Then it measures:

1. SPICE stage: ``npdehw.sim.ngspice.run_netlist`` in this warm process against
   ``ngspice -b`` on the same netlist in a fresh process. Overhead is
   median(run_netlist) / median(ngspice -b) - 1, and the target is at most 10 %.
   ngspice's own ``SpiceResult.elapsed_s`` (load and run commands only) is
   reported too.
2. Twin: ``npdehw.sim.twin.run_twin`` with the pipeline's settings against
   ``run_netlist``. Speed-up is median(run_netlist) / median(run_twin), and the
   target is at least 50x at 50 x 50. Agreement is the relative L2 error of the
   twin against ngspice resampled to the twin's output times, and the target is
   below 1e-3.
3. Diagnosis of the twin: the ``dense`` and ``sparse`` back ends forced, the
   default back end with one torch thread, the time split into assembly,
   factorization and time steps, and the cost of one step's matvec and solve
   next to alternatives (SciPy CSR matvec, torch CSR matvec with default and one
   thread, SuperLU with the MMD_AT_PLUS_A ordering).

The first call of every measured function at each size is a warm-up and is not
timed. The repetitions interleave all measured functions, and each repetition
rotates their order, so machine noise hits them alike. Tables report medians.

Usage:
    .venv/bin/python bench/bench_spice_twin.py [--sizes 16 32 50] [--repeats N]
        [--out docs/benchmarks.md]

With ``--out`` the script replaces its own section of that Markdown file, between
the marker comments, and keeps the rest of the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

import npdehw
from markdown_section import write_section
from npdehw.design import Design, load_design
from npdehw.models.integrators import DENSE_LIMIT, METHODS, LinearStepper
from npdehw.pipeline import map_design
from npdehw.sim.compare import error_metrics, resample
from npdehw.sim.ngspice import classify_stderr, ngspice_version, run_netlist
from npdehw.sim.twin import assemble, run_twin

REPO = Path(__file__).resolve().parent.parent
SECTION_START = "<!-- bench_spice_twin: start -->"
SECTION_END = "<!-- bench_spice_twin: end -->"
OVERHEAD_TARGET = 0.10
SPEEDUP_TARGET = 50.0
SPEEDUP_TARGET_SIZE = 50
ERROR_TARGET = 1e-3
# The forced dense back end costs O(n^2) per step, so the diagnosis skips it above
# this node count.
DENSE_DIAGNOSIS_MAX_NODES = 2500
STEP_COST_CALLS = 200
STEP_COSTS = {
    "product_mv": "torch.mv on the stepper's matrix",
    "scipy_csr_mv": "SciPy CSR matvec",
    "torch_csr_mv": "torch.mv on a CSR tensor",
    "torch_csr_mv_one_thread": "torch.mv on a CSR tensor, one thread",
    "splu_colamd": "SuperLU solve, COLAMD (the product's)",
    "splu_mmd": "SuperLU solve, MMD_AT_PLUS_A",
}


def design_at_size(base: Design, n: int) -> Design:
    """Return ``base`` on an n x n grid with the same domain length and boundaries.

    Every side of heat2d is Dirichlet, so the spacing is length / (n + 1). The
    general NPDE stores D / h^2 in its stencil kernels, so it is rebuilt from the
    resized diffusion model rather than given a new grid. Probes move to the new
    grid: ``center`` to (n // 2, n // 2) and any other probe is clipped into it.
    """
    diffusion = getattr(base, "diffusion", None)
    if diffusion is None:
        raise ValueError(f"design {base.name!r} has no plain diffusion model to resize. "
                         "Use a diffusion design such as heat2d.")
    grid = diffusion.grid
    zero_flux = sorted(side for side, b in grid.boundaries.items() if not b.is_dirichlet)
    if zero_flux:
        raise ValueError(f"design_at_size needs a Dirichlet condition on every side, but "
                         f"{zero_flux} are zero-flux, so the spacing rule length / (n + 1) "
                         "would not keep the domain length")
    spacing = tuple(length / (n + 1) for length in grid.lengths())
    new_grid = dataclasses.replace(grid, shape=(n,) * grid.ndim, spacing=spacing)
    resized = dataclasses.replace(diffusion, grid=new_grid)

    probes = []
    for probe in base.simulation.probes:
        if probe.name == "center":
            index = (n // 2,) * grid.ndim
        else:
            index = tuple(min(i, n - 1) for i in probe.index)
        probes.append(dataclasses.replace(probe, index=index))
    simulation = dataclasses.replace(base.simulation, probes=tuple(probes))
    return dataclasses.replace(base, npde=resized.to_npde(), diffusion=resized,
                               simulation=simulation)


def check_coupling_rates(design: Design, graph) -> None:
    """Raise unless G[k, k] / C[k] is 2 ndim D / h^2 / time_scale_s at every node.

    With Dirichlet sides and no decay term, each grid node connects to 2 ndim
    neighbours or boundary nets through the conductance C D / h^2 / time_scale_s.
    A mismatch means the circuit was built for another spacing. Designs with a
    decay term or unequal spacings are not checked.
    """
    diffusion = design.diffusion
    grid = diffusion.grid
    if diffusion.decay != 0 or len(set(grid.spacing)) != 1:
        return
    expected = (2 * grid.ndim * diffusion.diffusion / grid.spacing[0] ** 2
                / design.mapping.time_scale_s)
    system = assemble(graph)
    rates = system.conductance_s.diagonal() / system.capacitance_f
    worst = float(np.max(np.abs(rates / expected - 1)))
    if worst > 1e-9:
        raise RuntimeError(f"the {grid.shape} circuit has node rates up to {worst:.1%} away "
                           f"from 2 ndim D / h^2 = {expected:.6e} 1/s, so it does not "
                           "model heat2d at this size; check design_at_size")


def twin_arguments(design: Design) -> dict:
    """Return the keyword arguments that ``pipeline._twin`` passes to ``run_twin``."""
    settings = design.simulation
    return {
        "stop_s": design.mapping.to_seconds(design.npde.end_time),
        "n_steps": settings.twin_steps,
        "save_every": settings.twin_steps // (settings.output_times - 1),
        "method": settings.twin_method,
    }


def run_batch(path: Path) -> None:
    """Run ``ngspice -b`` on the netlist file at ``path`` as a fresh process."""
    subprocess.run(["ngspice", "-b", str(path)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)


def check_batch(path: Path) -> None:
    """Run ``ngspice -b`` once with its output captured; raise if it reports an error.

    stderr lines are classified by the adapter's ``classify_stderr``, so the batch
    run and the shared library count the same lines as errors.
    """
    done = subprocess.run(["ngspice", "-b", str(path)], capture_output=True, text=True,
                          check=False)
    errors = [line for line in done.stderr.splitlines() if classify_stderr(line) == "error"]
    if done.returncode != 0 or errors:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
        raise RuntimeError(f"ngspice -b {path} failed (exit status {done.returncode}):\n{tail}")


def with_one_thread(function: Callable[[], object]) -> Callable[[], object]:
    """Return ``function`` wrapped so that torch uses one intra-op thread while it runs."""
    def wrapped():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function()
        finally:
            torch.set_num_threads(threads)
    return wrapped


def twin_parts(graph, arguments: dict) -> dict[str, float]:
    """Return the seconds spent in assembly, factorization and time steps of one twin run.

    It makes the same calls as ``run_twin`` with the default back end, timing each.
    """
    start = time.perf_counter()
    system = assemble(graph)
    assembled = time.perf_counter()
    dt = arguments["stop_s"] / arguments["n_steps"]
    stepper = LinearStepper(system.capacitance_f, system.conductance_s, dt,
                            arguments["method"])
    factored = time.perf_counter()
    with torch.no_grad():
        stepper.integrate(torch.from_numpy(system.initial_v),
                          torch.from_numpy(system.constant_a), arguments["n_steps"],
                          arguments["save_every"])
    stepped = time.perf_counter()
    return {"assemble": assembled - start, "factor": factored - assembled,
            "steps": stepped - factored}


def seconds_per_call(function: Callable[[], object], calls: int = STEP_COST_CALLS) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def step_costs(graph, arguments: dict) -> dict[str, float | None]:
    """Return the seconds per call of the operations in one sparse twin step, and alternatives.

    A step is one matvec with the right-hand matrix and one solve with the factored
    left-hand matrix. The matrices are rebuilt here from ``assemble`` as
    ``C/dt - (1 - theta) G`` and ``C/dt + theta G``, the same formulas as in
    LinearStepper.
    """
    system = assemble(graph)
    dt = arguments["stop_s"] / arguments["n_steps"]
    theta = METHODS[arguments["method"]]
    mass = sp.diags(system.capacitance_f / dt)
    conductance = sp.csr_matrix(system.conductance_s, dtype=float)
    right = (mass - (1 - theta) * conductance).tocsr()
    right.sort_indices()
    left = (mass + theta * conductance).tocsc()
    state = torch.from_numpy(system.initial_v.copy())
    vector = system.initial_v.copy()
    with warnings.catch_warnings():
        # torch 2.x warns on every CSR tensor that its sparse CSR support is in beta.
        warnings.filterwarnings("ignore", message="Sparse CSR", category=UserWarning)
        csr_tensor = torch.sparse_csr_tensor(
            torch.from_numpy(right.indptr.astype(np.int64)),
            torch.from_numpy(right.indices.astype(np.int64)),
            torch.from_numpy(right.data), size=right.shape, dtype=torch.float64,
            check_invariants=True)
    stepper = LinearStepper(system.capacitance_f, system.conductance_s, dt,
                            arguments["method"], backend="sparse")
    # NOTE: reads the private LinearStepper._right, so this column shows "-" once
    # the stepper stops keeping its matrix there.
    product_matrix = getattr(stepper, "_right", None)
    colamd = spla.splu(left)
    mmd = spla.splu(left, permc_spec="MMD_AT_PLUS_A")
    return {
        "product_mv": (seconds_per_call(lambda: torch.mv(product_matrix, state))
                       if isinstance(product_matrix, torch.Tensor) else None),
        "scipy_csr_mv": seconds_per_call(lambda: right @ vector),
        "torch_csr_mv": seconds_per_call(lambda: torch.mv(csr_tensor, state)),
        "torch_csr_mv_one_thread": with_one_thread(
            lambda: seconds_per_call(lambda: torch.mv(csr_tensor, state)))(),
        "splu_colamd": seconds_per_call(lambda: colamd.solve(vector)),
        "splu_mmd": seconds_per_call(lambda: mmd.solve(vector)),
    }


def measure_size(base: Design, n: int, repeats: int, workdir: Path) -> dict:
    """Time every measured function at one grid size and return the medians and metrics."""
    design = design_at_size(base, n)
    graph, transient_analysis, netlist = map_design(design)
    check_coupling_rates(design, graph)
    path = workdir / f"heat2d_{n}x{n}.cir"
    path.write_text(netlist, encoding="utf-8")
    arguments = twin_arguments(design)
    n_nodes = len(assemble(graph).nodes)

    tasks: dict[str, Callable[[], object]] = {
        "spice_shared": lambda: run_netlist(netlist),
        "spice_batch": lambda: run_batch(path),
        "twin": lambda: run_twin(graph, **arguments),
        "twin_sparse": lambda: run_twin(graph, **arguments, backend="sparse"),
        "twin_one_thread": with_one_thread(lambda: run_twin(graph, **arguments)),
        "twin_parts": lambda: twin_parts(graph, arguments),
        "step_costs": lambda: step_costs(graph, arguments),
    }
    if n_nodes <= DENSE_DIAGNOSIS_MAX_NODES:
        tasks["twin_dense"] = lambda: run_twin(graph, **arguments, backend="dense")

    # Warm-up: the first call of each task at this size is not timed.
    check_batch(path)
    warm = {name: task() for name, task in tasks.items() if name != "spice_batch"}
    spice, twin = warm["spice_shared"], warm["twin"]

    seconds = {name: [] for name in tasks}
    spice_elapsed, parts, costs = [], [], []
    names = list(tasks)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            value = tasks[name]()
            seconds[name].append(time.perf_counter() - start)
            if name == "spice_shared":
                spice_elapsed.append(value.elapsed_s)
            elif name == "twin_parts":
                parts.append(value)
            elif name == "step_costs":
                costs.append(value)

    spice_on_twin_times = resample(spice, twin.nodes, twin.time_s, assemble(graph).initial_v)
    metrics = error_metrics(twin.voltages, spice_on_twin_times)
    return {
        "n": n,
        "nodes": n_nodes,
        "twin_arguments": arguments,
        "backend": twin.options["backend"],
        "spice_points": len(spice.time_s),
        "median_s": {name: statistics.median(values) for name, values in seconds.items()},
        "overhead_per_repeat": [shared / batch - 1 for shared, batch
                                in zip(seconds["spice_shared"], seconds["spice_batch"])],
        "range_s": {name: (min(values), max(values)) for name, values in seconds.items()},
        "spice_elapsed_s": statistics.median(spice_elapsed),
        "parts_s": {key: statistics.median(p[key] for p in parts) for key in parts[0]},
        "step_costs_s": {key: (None if costs[0][key] is None
                               else statistics.median(c[key] for c in costs))
                         for key in STEP_COSTS},
        "relative_l2": metrics["relative_l2"],
        "max_abs_over_peak": metrics["max_abs_over_peak"],
    }


def format_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f}"


def spice_table(rows: list[dict]) -> list[str]:
    lines = [
        "| grid | nodes | run_netlist ms | elapsed_s ms | ngspice -b ms | overhead | "
        f"overhead per repetition (min - max) | target <= {OVERHEAD_TARGET:.0%} |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        shared = row["median_s"]["spice_shared"]
        batch = row["median_s"]["spice_batch"]
        overhead = shared / batch - 1
        verdict = "met" if overhead <= OVERHEAD_TARGET else "missed"
        paired = row["overhead_per_repeat"]
        lines.append(
            f"| {row['n']}x{row['n']} | {row['nodes']} | {format_ms(shared)} | "
            f"{format_ms(row['spice_elapsed_s'])} | {format_ms(batch)} | {overhead:+.1%} | "
            f"{min(paired):+.1%} - {max(paired):+.1%} | {verdict} |"
        )
    return lines


def twin_table(rows: list[dict]) -> list[str]:
    lines = [
        "| grid | nodes | back end | run_netlist ms | run_twin ms | speed-up | relative L2 | "
        "max abs / peak | targets |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        spice = row["median_s"]["spice_shared"]
        twin = row["median_s"]["twin"]
        speedup = spice / twin
        verdicts = ["L2 met" if row["relative_l2"] < ERROR_TARGET else "L2 missed"]
        if row["n"] == SPEEDUP_TARGET_SIZE:
            met = speedup >= SPEEDUP_TARGET
            verdicts.append(f"speed-up {'met' if met else 'missed'} (>= {SPEEDUP_TARGET:.0f}x)")
        lines.append(
            f"| {row['n']}x{row['n']} | {row['nodes']} | {row['backend']} | {format_ms(spice)} | "
            f"{format_ms(twin)} | {speedup:.1f}x | {row['relative_l2']:.2e} | "
            f"{row['max_abs_over_peak']:.2e} | {', '.join(verdicts)} |"
        )
    return lines


def diagnosis_table(rows: list[dict]) -> list[str]:
    lines = [
        "| grid | run_twin ms (min - max) | sparse ms (min - max) | dense ms | "
        "one torch thread ms (min - max) | speed-up with one thread | assemble ms | "
        "factor ms | steps ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        median, spread = row["median_s"], row["range_s"]

        def cell(name):
            low, high = spread[name]
            return f"{format_ms(median[name])} ({format_ms(low)} - {format_ms(high)})"

        parts = row["parts_s"]
        lines.append(
            f"| {row['n']}x{row['n']} | {cell('twin')} | {cell('twin_sparse')} | "
            f"{format_ms(median.get('twin_dense'))} | {cell('twin_one_thread')} | "
            f"{median['spice_shared'] / median['twin_one_thread']:.1f}x | "
            f"{format_ms(parts['assemble'])} | {format_ms(parts['factor'])} | "
            f"{format_ms(parts['steps'])} |"
        )
    return lines


def step_cost_table(rows: list[dict]) -> list[str]:
    lines = ["| grid | " + " | ".join(STEP_COSTS.values()) + " |",
             "|---|" + "---:|" * len(STEP_COSTS)]
    for row in rows:
        costs = row["step_costs_s"]
        cells = ["-" if costs[key] is None else f"{costs[key] * 1e6:.1f}" for key in STEP_COSTS]
        lines.append(f"| {row['n']}x{row['n']} | " + " | ".join(cells) + " |")
    return lines


def read_first(path: str, prefix: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def batch_ngspice_version() -> str:
    done = subprocess.run(["ngspice", "-v"], capture_output=True, text=True, check=False)
    for line in (done.stdout + done.stderr).splitlines():
        if "ngspice-" in line:
            return line.strip("* ").split(":")[0].strip()
    return "unknown"


def git_revision() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def load_average() -> str:
    """Return the 1-minute load average from /proc/loadavg, or ``unknown``."""
    try:
        return Path("/proc/loadavg").read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return "unknown"


def environment(load_before: str) -> dict[str, str]:
    """Return the machine, software versions, command and load of this run."""
    memory_kib = read_first("/proc/meminfo", "MemTotal").split()[0]
    memory = (f"{int(memory_kib) / 2**20:.1f} GiB" if memory_kib.isdigit() else "unknown")
    import PySpice
    import scipy

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([".venv/bin/python", "bench/bench_spice_twin.py"]
                            + [shlex.quote(a) for a in sys.argv[1:]]),
        "cpus": f"{len(os.sched_getaffinity(0))} (nproc)",
        "cpu": read_first("/proc/cpuinfo", "model name"),
        "memory": memory,
        "1-minute load average (start / end)": f"{load_before} / {load_average()}",
        "ngspice": (f"shared library {ngspice_version()}, "
                    f"batch binary {batch_ngspice_version()}"),
        "python": platform.python_version(),
        "torch": f"{torch.__version__} ({torch.get_num_threads()} intra-op threads by default)",
        "numpy / scipy / PySpice": f"{np.__version__} / {scipy.__version__} / "
                                   f"{PySpice.__version__}",
        "npdehw": f"{npdehw.__version__}, git {git_revision()}",
    }


def render(rows: list[dict], repeats: int, env: dict[str, str]) -> str:
    """Return the Markdown section, from the start marker to the end marker."""
    first = rows[0]
    lines = [SECTION_START, "## ngspice stage and twin (bench/bench_spice_twin.py)", ""]
    lines += [f"- {key}: {value}" if key != "command" else f"- {key}: `{value}`"
              for key, value in env.items()]
    lines += [
        f"- repetitions: {repeats} timed per function and size, after one untimed warm-up "
        "call. The functions are interleaved and their order rotates each repetition. "
        "All times are medians.",
        f"- design: bundled heat2d with length [1, 1] and the shape of each row, "
        f"{first['spice_points']} ngspice time points at {first['n']}x{first['n']}",
        "",
    ]

    lines += [
        "### SPICE stage: run_netlist in the warm process against `ngspice -b`",
        "",
        "run_netlist includes loading the circuit, the run, collecting every node vector "
        "and cleanup. elapsed_s is ngspice's own SpiceResult.elapsed_s (load and run "
        "commands). `ngspice -b` includes starting the process.",
        "",
    ]
    lines += spice_table(rows)

    twin = first["twin_arguments"]
    saved = twin["n_steps"] // twin["save_every"] + 1
    lines += ["", "### Twin against ngspice", "",
              f"run_twin uses the pipeline's settings ({twin['n_steps']} {twin['method']} "
              f"steps, {saved} saved times), and its time includes assembly from the graph. "
              "Errors are twin against ngspice resampled to the twin's times.", ""]
    lines += twin_table(rows)

    lines += ["", "### Twin diagnosis", "",
              f"The default back end is dense up to {DENSE_LIMIT} nodes and sparse above. "
              "Sparse and dense force that back end, and one torch thread runs the default "
              "back end under `torch.set_num_threads(1)`. Assemble, factor and steps split "
              "one default run. A dash means the run was skipped "
              f"(dense above {DENSE_DIAGNOSIS_MAX_NODES} nodes).", ""]
    lines += diagnosis_table(rows)

    lines += ["", "### Cost of one twin step", "",
              "Microseconds per call, median over the repetitions of "
              f"{STEP_COST_CALLS} calls each. A sparse step is one matvec and one solve. The "
              "first column times the product's own matrix, and the others time "
              "alternatives on the same matrix. The solves use SciPy's SuperLU with two "
              "column orderings.", ""]
    lines += step_cost_table(rows)
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 50],
                        help="grid sizes N of the N x N grids (default: 16 32 50)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repetitions per function and size (default: 5)")
    parser.add_argument("--out", type=Path,
                        help="Markdown file whose benchmark section is replaced")
    arguments = parser.parse_args(argv)
    if arguments.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {arguments.repeats}")
    if any(n < 1 for n in arguments.sizes):
        parser.error(f"every size must be a positive integer, got {arguments.sizes}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    base = load_design("heat2d")
    load_before = load_average()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_spice_twin_") as workdir:
        for n in arguments.sizes:
            start = time.perf_counter()
            rows.append(measure_size(base, n, arguments.repeats, Path(workdir)))
            print(f"measured {n}x{n} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    section = render(rows, arguments.repeats, environment(load_before))
    print(section)
    if arguments.out is not None:
        write_section(arguments.out, section, SECTION_START, SECTION_END)
        print(f"wrote {arguments.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
