"""SPICE verification of a large grid in tiles, run in parallel on Dask.

One ngspice run of a 100 x 100 RC grid takes a minute or more, because ngspice
39's Sparse 1.3 factorization fills in heavily on 2-D grids. ``verify_in_tiles`` runs
the twin on the whole circuit once and cuts the grid into tiles. Each tile's halo
nodes are driven by the twin's trajectories as piecewise-linear sources
(``npdehw.sim.tile_circuit``, ``npdehw.sim.tile_halo``). The tiles run in ngspice
on Dask worker processes, and their own nodes are stitched back together.
Agreement of the stitched tiles with the twin means that every tile circuit,
given the twin's boundary voltages, computes in SPICE what the twin computes for
it. It does not test the twin's boundary voltages themselves. A monolithic run
does that, where one is feasible.

The default cluster is a ``LocalCluster`` of worker processes with one thread
each, listening on the loopback address only, so each worker owns one ngspice
instance (ngspice keeps global state).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time

import networkx as nx
import numpy as np

from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.sim.compare import error_metrics, resample
from npdehw.sim.ngspice import ngspice_version, run_netlist
from npdehw.sim.tile_circuit import Tile, TiledGrid, halo_nodes
from npdehw.sim.tile_halo import TwinDrive
from npdehw.sim.twin import run_twin

__all__ = ["TileReport", "load_ngspice", "simulate_tile", "verify_in_tiles"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TileReport:
    """Stitched ngspice tiles against the twin.

    Attributes:
        tiles: number of tiles along each grid axis.
        overlap: grid nodes each tile simulates beyond its own block on each side.
        time_s: comparison times, shape ``(n_times,)``.
        nodes: state nodes, in the twin's order (length ``n``).
        spice_v: stitched tile voltages, shape ``(n_times, n)``, volts.
        twin_v: twin voltages at the same times, shape ``(n_times, n)``, volts.
        metrics: ``error_metrics`` of ``spice_v`` against ``twin_v``.
        per_tile: one dict per tile: ``block``, ``owned``, ``simulated`` and ``halo``
            node counts, PWL ``corners`` per halo source, ngspice ``elapsed_s`` and
            time ``points``, and the tile's ``relative_l2`` against the twin.
        timings_s: wall times of the cluster start, the twin run, the tile netlists,
            the tile runs (``spice``, submit to last result) and the ``total``. The
            workers import npdehw and load ngspice while the twin and the netlists
            are computed; what remains of that shows in ``spice``.
        options: the twin and ngspice settings and the number of workers.
    """

    tiles: tuple[int, ...]
    overlap: int
    time_s: np.ndarray
    nodes: list[str]
    spice_v: np.ndarray
    twin_v: np.ndarray
    metrics: dict
    per_tile: list[dict]
    timings_s: dict
    options: dict

    def summary(self) -> str:
        """Return one line: the tiling, the agreement and the wall time."""
        grid = "x".join(map(str, self.tiles))
        worst = max(row["relative_l2"] for row in self.per_tile)
        return (f"{len(self.per_tile)} tiles ({grid}, overlap {self.overlap}) against the twin: "
                f"relative L2 {self.metrics['relative_l2']:.2e} (worst tile {worst:.2e}), "
                f"{self.timings_s['total']:.1f} s on {self.options['workers']} worker(s)")


def simulate_tile(netlist: str, nodes: list[str], time_s: np.ndarray,
                  initial_v: np.ndarray) -> dict:
    """Run one tile in this process's ngspice and return its nodes' voltages at ``time_s``.

    Returns a dict with ``voltages`` (shape ``(n_times, len(nodes))``), ngspice's
    ``elapsed_s`` and its number of time ``points``.
    """
    result = run_netlist(netlist)
    return {"voltages": resample(result, nodes, time_s, initial_v),
            "elapsed_s": result.elapsed_s, "points": len(result.time_s)}


def _comparison_steps(analysis: TransientAnalysis, twin_steps: int) -> int:
    """Return the twin steps between two comparison times (the analysis's print step)."""
    intervals = round(analysis.stop_s / analysis.step_s)
    if intervals < 1 or twin_steps % intervals:
        raise ValueError(f"twin_steps={twin_steps} must be a multiple of the {intervals} "
                         "print intervals of the analysis")
    return twin_steps // intervals


def _tile_jobs(grid: TiledGrid, tiles, twin, analysis, time_s, tolerance_v):
    """Return, per tile, the arguments of ``simulate_tile``, its halo size and PWL corners."""
    drive = TwinDrive(twin, tolerance_v)
    column = {node: k for k, node in enumerate(twin.nodes)}
    jobs, halos = [], []
    for tile in tiles:
        drive.corners = 0
        tiled = grid.circuit(tile, drive)
        halos.append((len(halo_nodes(tiled)), drive.corners))
        netlist = write_netlist(tiled, analysis, title=f"tile{tile.number}")
        initial = twin.voltages[0, [column[node] for node in tile.owned]]
        jobs.append((netlist, tile.owned, time_s, initial))
    logger.info("wrote %d tile netlists, %d halo nodes in all", len(jobs),
                sum(count for count, _ in halos))
    return jobs, halos


@contextlib.contextmanager
def _tile_runner(workers: int, client):
    """Yield a function that runs ``simulate_tile`` jobs and returns results in job order.

    A local cluster starts here, before the twin runs, and its workers import this
    module and load ngspice in the background meanwhile.
    """
    if client is not None:
        yield lambda jobs: _gather(client, jobs)
        return
    if workers == 0:
        yield lambda jobs: [simulate_tile(*job) for job in jobs]
        return
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    # The scheduler serves a few HTTP routes even without a dashboard. They listen on a
    # free loopback port, like the scheduler and the workers.
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster, \
            Client(cluster) as own:
        # One task per worker, not waited for here. The futures only have to stay alive.
        warm_up = [own.submit(load_ngspice, pure=False, workers=[address])
                   for address in own.scheduler_info()["workers"]]
        logger.info("started %d Dask workers in %.1f s", len(warm_up),
                    time.perf_counter() - start)
        yield lambda jobs: _gather(own, jobs)


def load_ngspice() -> str:
    """Load this process's ngspice instance and return its version (a worker warm-up)."""
    return ngspice_version()


def _gather(client, jobs):
    futures = [client.submit(simulate_tile, *job, pure=False) for job in jobs]
    return client.gather(futures)


def verify_in_tiles(graph: nx.MultiGraph, analysis: TransientAnalysis, tiles: tuple[int, ...],
                    *, twin_steps: int, twin_method: str = "trapezoidal", overlap: int = 0,
                    halo_rtol: float = 1e-5, workers: int = 2, client=None) -> TileReport:
    """Simulate ``graph`` in ngspice tile by tile and compare the stitched result with the twin.

    Args:
        graph: a grid circuit (``npdehw.hw.builder.build_circuit``).
        analysis: the transient analysis of every tile. Its print step sets the
            comparison times.
        tiles: number of tiles along each grid axis, for example ``(4, 4)``.
        twin_steps: twin steps over the run, a multiple of the print intervals.
        twin_method: ``trapezoidal``, ``crank_nicolson`` or ``backward_euler``.
        overlap: grid nodes each tile simulates beyond its block on each side.
        halo_rtol: largest deviation of a halo source from the twin's samples,
            relative to the twin's peak absolute voltage. At 0 every twin step is a
            PWL corner. The tiles' error against the twin is about this size. One
            tile of heat2d's 100 x 100 grid measured 7.5e-6 relative L2 at 1e-5
            and 5e-7 at 0. Looser values cut the ngspice time, because each corner
            is a breakpoint.
        workers: Dask worker processes of the local cluster. With 0 the tiles run
            one after another in this process.
        client: a ``dask.distributed.Client`` to use instead of a local cluster.
    """
    start = time.perf_counter()
    if workers < 0:
        raise ValueError(f"workers must be 0 or more, got {workers}")
    if not halo_rtol >= 0:
        raise ValueError(f"halo_rtol must be 0 or more, got {halo_rtol}")
    stride = _comparison_steps(analysis, twin_steps)
    grid = TiledGrid(graph)
    parts = grid.split(tiles, overlap)
    with _tile_runner(workers, client) as runner:
        begun = time.perf_counter()
        twin = run_twin(graph, stop_s=analysis.stop_s, n_steps=twin_steps, save_every=1,
                        method=twin_method)
        twin_done = time.perf_counter()
        time_s = twin.time_s[::stride]
        tolerance_v = halo_rtol * float(np.max(np.abs(twin.voltages)))
        jobs, halos = _tile_jobs(grid, parts, twin, analysis, time_s, tolerance_v)
        written = time.perf_counter()
        results = runner(jobs)
        finished = time.perf_counter()
    twin_v = twin.voltages[::stride]
    spice_v, per_tile = _stitch(parts, results, halos, twin.nodes, twin_v)
    timings = {"cluster_start": begun - start, "twin": twin_done - begun,
               "netlists": written - twin_done, "spice": finished - written,
               "total": time.perf_counter() - start}
    options = {"twin_method": twin_method, "twin_steps": twin_steps, "halo_rtol": halo_rtol,
               "ngspice": analysis.options(), "workers": workers if client is None else "client"}
    return TileReport(tuple(tiles), overlap, time_s, twin.nodes, spice_v, twin_v,
                      error_metrics(spice_v, twin_v), per_tile, timings, options)


def _stitch(parts: list[Tile], results, halos, nodes, twin_v):
    column = {node: k for k, node in enumerate(nodes)}
    spice_v = np.full_like(twin_v, np.nan)
    per_tile = []
    for tile, result, (halo, corners) in zip(parts, results, halos):
        columns = [column[node] for node in tile.owned]
        spice_v[:, columns] = result["voltages"]
        metrics = error_metrics(result["voltages"], twin_v[:, columns])
        per_tile.append({"block": tile.block, "owned": len(tile.owned),
                         "simulated": len(tile.simulated), "halo": halo, "corners": corners,
                         "elapsed_s": result["elapsed_s"], "points": result["points"],
                         "relative_l2": metrics["relative_l2"]})
    missing = [nodes[k] for k in np.flatnonzero(np.isnan(spice_v[0]))]
    if missing:
        raise RuntimeError(f"no tile owns node {missing[0]}, so the tiles do not cover the "
                           "grid")
    return spice_v, per_tile
