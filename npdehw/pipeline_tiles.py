"""ngspice in tiles for the main job: the command-line options and the tile runner.

With ``--spice tiles`` each circuit runs tile by tile on a Dask cluster
(``npdehw.sim.tiles.verify_in_tiles``), every tile's halo nodes driven by the twin's
voltages, and the comparison uses the stitched tiles.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import re
import time

import networkx as nx

from npdehw.design import Design
from npdehw.errors import CircuitError, DesignError
from npdehw.hw.netlist import TransientAnalysis
from npdehw.sim.tile_circuit import TiledGrid
from npdehw.sim.tiles import TileReport, load_ngspice, verify_in_tiles

__all__ = ["DEFAULT_TILE_NODES", "TileOptionError", "TileOptions", "TileSimulator",
           "parse_halo_rtol", "parse_tile_counts", "parse_workers", "tile_counts",
           "tile_options"]

# Without --tiles, each tile's block spans at most this many grid indices (25 x 25 in
# 2-D). heat2d at 100 x 100 split this way into 4 x 4 tiles took about 3 s of ngspice
# per tile (docs/benchmarks.md, bench/bench_large_grid.py).
DEFAULT_TILE_NODES = 625
DEFAULT_TILE_WORKERS = 2
DEFAULT_HALO_RTOL = 1e-5
_TILE_COUNTS = re.compile(r"^[0-9]+(x[0-9]+)*$")

logger = logging.getLogger(__name__)


class TileOptionError(DesignError):
    """An option of ngspice in tiles that does not fit the run; the message names the option."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TileOptions:
    """Options of ngspice in tiles for ``run_design`` (``npdehw run --spice tiles``).

    Attributes:
        tiles: tiles per grid axis, such as ``(4, 4)``. None splits each axis into
            blocks of at most ``DEFAULT_TILE_NODES ** (1 / ndim)`` indices.
        workers: worker processes of the local Dask cluster, one ngspice each.
        halo_rtol: largest deviation of a halo PWL source from the twin's samples,
            relative to the twin's peak absolute voltage (``verify_in_tiles``).
        scheduler: address of a running Dask scheduler to use in place of a local
            cluster; its workers need npdehw and ngspice.
    """

    tiles: tuple[int, ...] | None = None
    workers: int = DEFAULT_TILE_WORKERS
    halo_rtol: float = DEFAULT_HALO_RTOL
    scheduler: str | None = None

    def __post_init__(self):
        if self.tiles is not None and (not self.tiles or min(self.tiles) < 1):
            raise TileOptionError(f"--tiles {_counts_text(self.tiles)}: every axis needs at "
                                  "least one tile; give counts such as 4x4")
        if self.workers < 1:
            raise TileOptionError(f"--workers {self.workers}: a local cluster needs at least "
                                  "1 worker process; give a count such as 2")
        if not (math.isfinite(self.halo_rtol) and self.halo_rtol >= 0):
            raise TileOptionError(f"--halo-rtol {self.halo_rtol}: must be a finite number "
                                  "of 0 or more, such as 1e-5")


def tile_options(spice: str, *, tiles: str | None = None, workers: str | None = None,
                 halo_rtol: str | None = None, scheduler: str | None = None) -> TileOptions | None:
    """Return the options of ``npdehw run --spice tiles``, or None for ``--spice full``.

    The keyword arguments are the command-line texts, None where an option is left
    out.

    Raises:
        TileOptionError: for a malformed value, a tile option given with
            ``--spice full``, and ``--workers`` given with ``--scheduler``.
    """
    given_options = [name for name, value in (("--tiles", tiles), ("--workers", workers),
                                              ("--halo-rtol", halo_rtol),
                                              ("--scheduler", scheduler))
                     if value is not None]
    if spice == "full":
        if given_options:
            first = given_options[0]
            raise TileOptionError(f"{first} applies only to ngspice in tiles; add "
                                  f"--spice tiles or leave out {first}")
        return None
    if spice != "tiles":
        raise TileOptionError(f"--spice {spice}: invalid mode; use full or tiles")
    if workers is not None and scheduler is not None:
        raise TileOptionError(f"--workers {workers} sets the size of a local cluster; leave "
                              "it out with --scheduler, whose workers are already running")
    return TileOptions(
        tiles=None if tiles is None else parse_tile_counts(tiles), scheduler=scheduler,
        workers=DEFAULT_TILE_WORKERS if workers is None else parse_workers(workers),
        halo_rtol=DEFAULT_HALO_RTOL if halo_rtol is None else parse_halo_rtol(halo_rtol))


def _counts_text(counts) -> str:
    return "x".join(str(count) for count in counts)


def parse_tile_counts(text: str) -> tuple[int, ...]:
    """Return the ``--tiles`` text ``4x4`` as ``(4, 4)`` and ``4`` as ``(4,)``."""
    cleaned = text.strip().lower()
    if not _TILE_COUNTS.match(cleaned):
        raise TileOptionError(f"--tiles {text!r} is not a tile count; give whole numbers of "
                              "tiles per grid axis joined by x, such as 4x4 for a 2-D grid "
                              "or 4 for a 1-D one")
    counts = tuple(int(part) for part in cleaned.split("x"))
    if min(counts) < 1:
        raise TileOptionError(f"--tiles {text}: an axis has no tiles; every axis needs at "
                              f"least 1, such as {_counts_text(max(c, 1) for c in counts)}")
    return counts


def parse_workers(text: str) -> int:
    """Return the ``--workers`` text as a number of worker processes, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise TileOptionError(f"--workers {text!r} is not a whole number; give the number "
                              "of Dask worker processes, such as 2") from None
    if value < 1:
        raise TileOptionError(f"--workers {value}: a local cluster needs at least 1 worker "
                              "process; give a count such as 2")
    return value


def parse_halo_rtol(text: str) -> float:
    """Return the ``--halo-rtol`` text as a finite tolerance of 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise TileOptionError(f"--halo-rtol {text!r} is not a finite number of 0 or more; "
                              "give a relative tolerance such as 1e-5, or 0 for a PWL "
                              "corner at every twin step")
    return value


def tile_counts(design: Design, graph: nx.MultiGraph, options: TileOptions) -> tuple[int, ...]:
    """Return the tiles per axis, checked against the circuit's grid.

    Raises:
        TileOptionError: when ``options.tiles`` has the wrong number of axes or more
            tiles than grid nodes along an axis.
    """
    try:
        tiled = TiledGrid(graph)
    except CircuitError as err:
        raise TileOptionError(f"--spice tiles: {design.source}: {err}; run it with "
                              "--spice full") from err
    if options.tiles is None:
        return tiled.counts(DEFAULT_TILE_NODES)
    shape = tiled.shape
    grid = " x ".join(map(str, shape))
    if len(options.tiles) != len(shape):
        example = "x".join(["2"] * len(shape))
        raise TileOptionError(f"--tiles {_counts_text(options.tiles)}: the grid of "
                              f"{design.source} is {len(shape)}-D ({grid} nodes); give one "
                              f"count per axis, such as {example}")
    if any(count > n for count, n in zip(options.tiles, shape)):
        largest = _counts_text(min(count, n) for count, n in zip(options.tiles, shape))
        raise TileOptionError(f"--tiles {_counts_text(options.tiles)}: more tiles than grid "
                              f"nodes along an axis of the {grid} grid of {design.source}; "
                              f"use at most {_counts_text(shape)}, such as {largest}")
    return options.tiles


class TileSimulator:
    """Runs circuits in ngspice tiles on one Dask client, started on first use.

    The client closes with ``stack``. A local cluster's workers load ngspice in the
    background while the twin of the first circuit runs.
    """

    def __init__(self, design: Design, analysis: TransientAnalysis, options: TileOptions,
                 counts: tuple[int, ...], stack: contextlib.ExitStack):
        self.design, self.analysis, self.options, self.counts = design, analysis, options, counts
        self.stack = stack
        self.client = None
        self.cluster = {}
        self._warm_up = []

    def _connect(self):
        from npdehw.sweep_cluster import dask_client

        start = time.perf_counter()
        verbose = logging.getLogger("npdehw").isEnabledFor(logging.INFO)
        client = self.stack.enter_context(dask_client(self.options.workers,
                                                      self.options.scheduler, verbose=verbose))
        workers = list(client.scheduler_info()["workers"])
        if not workers:
            raise TileOptionError(f"--scheduler {self.options.scheduler}: the scheduler has no "
                                  "workers; start at least one dask worker on it")
        # One warm-up task per worker, not waited for. The futures only have to stay alive.
        self._warm_up = [client.submit(load_ngspice, pure=False, workers=[address])
                         for address in workers]
        self.cluster = {"kind": "local" if self.options.scheduler is None else "scheduler",
                        "address": client.scheduler.address, "workers": len(workers),
                        "start_s": time.perf_counter() - start}
        logger.info("Dask cluster at %s with %d workers", self.cluster["address"], len(workers))
        self.client = client

    def __call__(self, graph: nx.MultiGraph) -> TileReport:
        """Return the stitched ngspice tiles of ``graph`` against its twin."""
        if self.client is None:
            self._connect()
        settings = self.design.simulation
        try:
            report = verify_in_tiles(graph, self.analysis, self.counts,
                                     twin_steps=settings.twin_steps,
                                     twin_method=settings.twin_method,
                                     halo_rtol=self.options.halo_rtol, client=self.client)
        except CircuitError as err:
            raise TileOptionError(f"--spice tiles: {self.design.source}: {err}; run it with "
                                  "--spice full") from err
        # verify_in_tiles records a given client as "client"; the count is more useful.
        options = {**report.options, "workers": self.cluster["workers"]}
        return dataclasses.replace(report, options=options)

    def record(self, ideal: TileReport, rounded: TileReport) -> dict:
        return {"options": self.options, "counts": self.counts, "cluster": self.cluster,
                "ideal": ideal, "rounded": rounded}

    def timings(self, ideal: TileReport, rounded: TileReport) -> dict[str, float]:
        """Return the cluster start and, per circuit, the tile runs' wall and summed ngspice time."""
        timings = {"Dask cluster start": self.cluster["start_s"]}
        for label, report in (("ideal", ideal), ("rounded", rounded)):
            timings[f"ngspice tile runs ({label}), wall"] = report.timings_s["spice"]
            timings[f"ngspice tile runs ({label}), summed over tiles"] = sum(
                row["elapsed_s"] for row in report.per_tile)
        return timings
