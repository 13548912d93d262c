"""Large heat2d grids: the sparse differentiable twin at 200 x 200, and ngspice in tiles.

Part ``twin`` (default size 200 x 200, heat2d resized as in bench_spice_twin.py):

1. Time per step of ``npdehw.models.sparse_grad.SparseThetaStepper`` without
   gradients, with the autograd graph recorded, and of the backward pass, plus
   the graph-to-system assembly and the SuperLU factorization.
2. Agreement with a SciPy reference written here: ``npdehw.sim.twin.assemble``
   gives C, G and b, and the theta scheme runs with ``scipy.sparse.linalg.splu``
   (COLAMD ordering, one solve per step). Target: max |difference| below 1e-6 of
   the peak.
3. Gradient of a loss over the trajectory with respect to a few random resistor
   conductances (plus one resistor to a Dirichlet net) against central
   differences with a relative step of 1e-3. Target: relative difference below
   1e-4.

Part ``tiles``: ``npdehw.sim.tiles.verify_in_tiles`` runs heat2d at each
requested size (``N:T`` runs T x T tiles on an N x N grid) on a local Dask
cluster and compares the stitched tiles with the twin. Up to
``--monolithic-up-to`` it also compares them with one monolithic ngspice run and
reports the wall times of both.

Usage:
    .venv/bin/python bench/bench_large_grid.py [--parts twin tiles] [--twin-size 200]
        [--steps 100] [--grad-steps 20] [--grad-resistors 4] [--tile-runs 50:2 100:4]
        [--halo-rtol 0 1e-5] [--workers 2] [--monolithic-up-to 100]
        [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from bench_spice_twin import design_at_size, git_revision, load_average
from markdown_section import write_section
from npdehw.design import load_design
from npdehw.models.integrators import METHODS
from npdehw.pipeline import map_design
from npdehw.sim.compare import error_metrics, resample
from npdehw.sim.ngspice import ngspice_version, run_netlist
from npdehw.sim.sparse_twin import sparse_system
from npdehw.sim.tiles import verify_in_tiles
from npdehw.sim.twin import assemble

TWIN_START = "<!-- bench_large_grid_twin: start -->"
TWIN_END = "<!-- bench_large_grid_twin: end -->"
TILES_START = "<!-- bench_large_grid_tiles: start -->"
TILES_END = "<!-- bench_large_grid_tiles: end -->"
AGREEMENT_TARGET = 1e-6
GRADIENT_TARGET = 1e-4
FD_RELATIVE_STEP = 1e-3
SEED = 20261204


def heat2d(n: int):
    """Return the heat2d design at n x n and its graph, analysis and netlist."""
    design = design_at_size(load_design("heat2d"), n)
    graph, analysis, netlist = map_design(design)
    return design, graph, analysis, netlist


def scipy_reference(graph, dt: float, theta: float, n_steps: int) -> tuple[np.ndarray, float]:
    """Return the theta-scheme trajectory and the seconds per step of the stepping loop.

    C, G and b come from ``assemble``. The left matrix is factored once by splu
    (COLAMD ordering), and each step is one product and one solve.
    """
    system = assemble(graph)
    mass = sp.diags(system.capacitance_f / dt)
    factor = spla.splu((mass + theta * system.conductance_s).tocsc(), permc_spec="COLAMD")
    right = (mass - (1 - theta) * system.conductance_s).tocsr()
    states = [system.initial_v]
    start = time.perf_counter()
    for _ in range(n_steps):
        states.append(factor.solve(right @ states[-1] + system.constant_a))
    return np.array(states), (time.perf_counter() - start) / n_steps


def weighted_loss(states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Return sum over saved states and nodes of w_i x_i^2 / 2."""
    return 0.5 * (weights * states**2).sum()


def loss_at(system, dt, method, n_steps, weights, conductance) -> float:
    with torch.no_grad():
        states = system.stepper(dt, method, conductance_s=torch.from_numpy(conductance)) \
            .integrate(torch.from_numpy(system.initial_v), n_steps)
    return float(weighted_loss(states, weights))


def gradient_check(system, dt, method, n_steps, count, rng) -> list[dict]:
    """Compare adjoint dL/dg with central differences at random resistors and one boundary one.

    ``count`` resistors are drawn at random, plus one that joins a Dirichlet net.
    """
    weights = torch.from_numpy(rng.uniform(0.0, 1.0, len(system.nodes)))
    leaf = torch.tensor(system.conductance_s, requires_grad=True)
    states = system.stepper(dt, method, conductance_s=leaf).integrate(
        torch.from_numpy(system.initial_v), n_steps)
    weighted_loss(states, weights).backward()
    boundary = np.flatnonzero(system.network.terminals.max(axis=1) >= system.network.n_nodes)
    picks = list(rng.choice(system.network.n_resistors, count, replace=False))
    picks.append(int(rng.choice(boundary)))
    rows = []
    for index in picks:
        step = FD_RELATIVE_STEP * system.conductance_s[index]
        values = []
        for sign in (1, -1):
            shifted = system.conductance_s.copy()
            shifted[index] += sign * step
            values.append(loss_at(system, dt, method, n_steps, weights, shifted))
        difference = (values[0] - values[1]) / (2 * step)
        adjoint = float(leaf.grad[index])
        rows.append({"designator": system.designators[index], "boundary": index in boundary,
                     "adjoint": adjoint, "difference": difference,
                     "relative": abs(adjoint - difference) / abs(difference)})
    return rows


def measure_twin(n: int, n_steps: int, grad_steps: int, grad_count: int) -> dict:
    design, graph, _, _ = heat2d(n)
    settings = design.simulation
    method = settings.twin_method
    dt = design.mapping.to_seconds(design.npde.end_time) / settings.twin_steps

    start = time.perf_counter()
    system = sparse_system(graph)
    assembled = time.perf_counter()
    stepper = system.stepper(dt, method)
    factored = time.perf_counter()
    initial = torch.from_numpy(system.initial_v)
    with torch.no_grad():
        states = stepper.integrate(initial, n_steps)
    stepped = time.perf_counter()

    leaf = torch.tensor(system.conductance_s, requires_grad=True)
    recorded = system.stepper(dt, method, conductance_s=leaf)
    begin = time.perf_counter()
    trajectory = recorded.integrate(initial, n_steps)
    forward = time.perf_counter()
    (trajectory[-1] ** 2).sum().backward()
    backward = time.perf_counter()

    reference, reference_step_s = scipy_reference(graph, dt, METHODS[method], n_steps)
    difference = np.abs(states.numpy() - reference).max() / np.abs(reference).max()
    gradients = gradient_check(system, dt, method, grad_steps, grad_count,
                               np.random.default_rng(SEED))
    return {
        "n": n, "nodes": len(system.nodes), "resistors": system.network.n_resistors,
        "method": method, "dt_s": dt, "n_steps": n_steps, "grad_steps": grad_steps,
        "assemble_s": assembled - start, "factor_s": factored - assembled,
        "step_s": (stepped - factored) / n_steps, "recorded_step_s": (forward - begin) / n_steps,
        "backward_step_s": (backward - forward) / n_steps,
        "reference_step_s": reference_step_s,
        "max_difference": float(difference),
        "relative_l2": error_metrics(states.numpy(), reference)["relative_l2"],
        "gradients": gradients,
    }


def measure_tiles(n: int, tiles: int, halo_rtol: float, workers: int,
                  monolithic: dict | None) -> dict:
    design, graph, analysis, netlist = heat2d(n)
    report = verify_in_tiles(graph, analysis, (tiles, tiles),
                             twin_steps=design.simulation.twin_steps,
                             twin_method=design.simulation.twin_method,
                             halo_rtol=halo_rtol, workers=workers)
    row = {"n": n, "tiles": tiles, "halo_rtol": halo_rtol, "workers": workers,
           "timings": report.timings_s, "against_twin": report.metrics["relative_l2"],
           "worst_tile": max(t["relative_l2"] for t in report.per_tile),
           "tile_spice_s": statistics.median(t["elapsed_s"] for t in report.per_tile),
           "corners": statistics.median(t["corners"] for t in report.per_tile),
           "points": statistics.median(t["points"] for t in report.per_tile)}
    if monolithic is not None:
        if n not in monolithic:
            start = time.perf_counter()
            result = run_netlist(netlist)
            monolithic[n] = {"result": result, "wall_s": time.perf_counter() - start}
        whole = resample(monolithic[n]["result"], report.nodes, report.time_s,
                         assemble(graph).initial_v)
        row["monolithic_s"] = monolithic[n]["wall_s"]
        row["against_monolithic"] = error_metrics(report.spice_v, whole)["relative_l2"]
        row["twin_against_monolithic"] = error_metrics(report.twin_v, whole)["relative_l2"]
    return row


def header(title: str, load_before: str) -> list[str]:
    command = " ".join([".venv/bin/python", "bench/bench_large_grid.py"]
                       + [shlex.quote(a) for a in sys.argv[1:]])
    return [f"## {title} (bench/bench_large_grid.py)", "",
            f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- command: `{command}`",
            f"- python {platform.python_version()}, torch {torch.__version__} (one thread), "
            f"scipy {scipy.__version__}, ngspice {ngspice_version()}, git {git_revision()}",
            f"- 1-minute load average (start / end): {load_before} / {load_average()}", ""]


def render_twin(row: dict, load_before: str) -> str:
    n = row["n"]
    met = row["max_difference"] < AGREEMENT_TARGET
    worst = max(g["relative"] for g in row["gradients"])
    lines = [TWIN_START] + header(f"Sparse differentiable twin at {n}x{n}", load_before)
    lines += [
        f"heat2d at {n}x{n}: {row['nodes']} nodes, {row['resistors']} resistors, "
        f"{row['method']} steps of {row['dt_s']:.3e} s. Times per step are averages over "
        f"{row['n_steps']} steps, one run each.", "",
        "| stage | time |", "|---|---:|",
        f"| graph to RCNetwork (sparse_system) | {row['assemble_s']:.2f} s |",
        f"| SuperLU factorization of M | {row['factor_s']:.3f} s |",
        f"| step, no gradient | {1e3 * row['step_s']:.2f} ms |",
        f"| step, autograd graph recorded | {1e3 * row['recorded_step_s']:.2f} ms |",
        f"| backward pass per step (adjoint solve and dL/dg) | "
        f"{1e3 * row['backward_step_s']:.2f} ms |",
        f"| SciPy reference step (splu with COLAMD, written in the benchmark) | "
        f"{1e3 * row['reference_step_s']:.2f} ms |", "",
        f"Against the SciPy reference over {row['n_steps']} steps: max |difference| / peak "
        f"{row['max_difference']:.2e}, relative L2 {row['relative_l2']:.2e} (target below "
        f"{AGREEMENT_TARGET:.0e}: {'met' if met else 'missed'}).", "",
        f"Gradient of sum w_i x_i^2 / 2 over all {row['grad_steps'] + 1} states of a "
        f"{row['grad_steps']}-step run (w uniform in [0, 1], seed {SEED}) against central "
        f"differences with a step of {FD_RELATIVE_STEP:.0e} g; worst relative difference "
        f"{worst:.2e} (target below {GRADIENT_TARGET:.0e}: "
        f"{'met' if worst < GRADIENT_TARGET else 'missed'}).", "",
        "| resistor | to a Dirichlet net | adjoint dL/dg | central difference | relative |",
        "|---|---|---:|---:|---:|"]
    for g in row["gradients"]:
        lines.append(f"| {g['designator']} | {'yes' if g['boundary'] else 'no'} | "
                     f"{g['adjoint']:.6e} | {g['difference']:.6e} | {g['relative']:.1e} |")
    return "\n".join(lines + [TWIN_END]) + "\n"


def render_tiles(rows: list[dict], load_before: str) -> str:
    lines = [TILES_START] + header("ngspice in tiles on Dask", load_before)
    lines += [
        "verify_in_tiles runs the twin on the whole grid, drives each tile's halo nodes with "
        "the twin's voltages as PWL sources, runs the tiles in ngspice on a local Dask "
        "cluster (worker processes, one thread each, loopback) and compares the stitched "
        "tiles at the 11 output times. Total includes the twin, the tile netlists, starting "
        "the cluster and the tile runs; tile ngspice is the median of ngspice's own time per "
        "tile. Relative L2 is over all nodes and output times.", "",
        "| grid | tiles | halo_rtol | workers | PWL corners | ngspice points | total s | "
        "cluster start s | tile runs s | tile ngspice s | monolithic ngspice s | "
        "tiles vs twin | worst tile | tiles vs monolithic | twin vs monolithic |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        timing = row["timings"]
        lines.append(
            f"| {row['n']}x{row['n']} | {row['tiles']}x{row['tiles']} | {row['halo_rtol']:g} | "
            f"{row['workers']} | {row['corners']:.0f} | {row['points']:.0f} | "
            f"{timing['total']:.1f} | {timing['cluster_start']:.1f} | {timing['spice']:.1f} | "
            f"{row['tile_spice_s']:.2f} | "
            + (f"{row['monolithic_s']:.1f}" if "monolithic_s" in row else "-") + " | "
            f"{row['against_twin']:.2e} | {row['worst_tile']:.2e} | "
            + (f"{row['against_monolithic']:.2e} | {row['twin_against_monolithic']:.2e} |"
               if "against_monolithic" in row else "- | - |"))
    lines += [
        "",
        "- halo_rtol bounds the deviation of each halo PWL source from the twin's samples, "
        "relative to the twin's peak voltage. At 0 every twin step is a corner. ngspice "
        "makes every PWL corner a breakpoint and restarts with a short first-order step "
        "after it, so corners cost ngspice time, and the tiles' error against the twin "
        "follows halo_rtol once it exceeds the twin's own error.",
        "- Tiles against the twin check each tile circuit in SPICE, given the twin's "
        "voltages at its boundary. Tiles against the monolithic run also check those "
        "boundary voltages, and so the twin itself.",
        "- Tile runs include each worker's first import of npdehw (torch included), which "
        "overlaps the twin run and the netlist writing only in part.",
    ]
    return "\n".join(lines + [TILES_END]) + "\n"


def tile_run(text: str) -> tuple[int, int]:
    size, _, tiles = text.partition(":")
    if not (size.isdigit() and tiles.isdigit()):
        raise argparse.ArgumentTypeError(f"expected N:T such as 100:4, got {text!r}")
    return int(size), int(tiles)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=["twin", "tiles"],
                        default=["twin", "tiles"], help="what to measure (default: both)")
    parser.add_argument("--twin-size", type=int, default=200, help="N of the twin's grid")
    parser.add_argument("--steps", type=int, default=100, help="steps timed (default: 100)")
    parser.add_argument("--grad-steps", type=int, default=20,
                        help="steps of the gradient check runs (default: 20)")
    parser.add_argument("--grad-resistors", type=int, default=4,
                        help="random resistors checked, plus one to a Dirichlet net")
    parser.add_argument("--tile-runs", type=tile_run, nargs="+",
                        default=[(50, 2), (100, 4)], help="N:T pairs (default: 50:2 100:4)")
    parser.add_argument("--halo-rtol", type=float, nargs="+", default=[0.0, 1e-5],
                        help="halo tolerances, each run at every size (default: 0 1e-5)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (default: 2)")
    parser.add_argument("--monolithic-up-to", type=int, default=100,
                        help="largest N also run as one ngspice netlist (default: 100)")
    parser.add_argument("--out", type=Path, help="Markdown file whose sections are replaced")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    torch.set_num_threads(1)
    sections = []
    if "twin" in arguments.parts:
        load_before = load_average()
        row = measure_twin(arguments.twin_size, arguments.steps, arguments.grad_steps,
                           arguments.grad_resistors)
        sections.append((render_twin(row, load_before), TWIN_START, TWIN_END))
    if "tiles" in arguments.parts:
        load_before = load_average()
        monolithic, rows = {}, []
        for n, tiles in arguments.tile_runs:
            for halo_rtol in arguments.halo_rtol:
                whole = monolithic if n <= arguments.monolithic_up_to else None
                rows.append(measure_tiles(n, tiles, halo_rtol, arguments.workers, whole))
                print(f"measured {n}x{n} in {tiles}x{tiles} tiles, halo_rtol {halo_rtol:g}",
                      file=sys.stderr)
        sections.append((render_tiles(rows, load_before), TILES_START, TILES_END))
    for text, start, end in sections:
        print(text)
        if arguments.out is not None:
            write_section(arguments.out, text, start, end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
