"""The main job: design to circuit, ngspice and the twin, rounding, comparison.

Stages, in order: load, map, simulate the ideal circuit in ngspice, run the twin,
round to E-series parts, simulate the rounded circuit, compare, export. A
tracker's ``start(stage, number, total)`` and ``done(stage, seconds)`` are called
around each one, and ``failed(stage)`` when a stage raises.

By default ngspice runs each circuit whole. With ``TileOptions`` it runs each one
in tiles (``npdehw.pipeline_tiles``) and the comparison uses the stitched tiles.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path

import networkx as nx
import numpy as np

from npdehw.analyses import run_analysis
from npdehw.design import Design, load_design
from npdehw.errors import CircuitError, DesignError, SimulationError, SpecError
from npdehw.hw.builder import build_circuit, node_of
from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.hw.rounding import round_to_series
from npdehw.models import exact
from npdehw.sim.compare import error_metrics, per_probe_metrics, resample
from npdehw.sim.ngspice import run_netlist
from npdehw.pipeline_tiles import TileOptions, TileSimulator, tile_counts
from npdehw.sim.tiles import TileReport
from npdehw.stages import SilentTracker, Stages
from npdehw.sim.twin import TwinResult, assemble, run_twin

__all__ = ["STAGES", "TILE_STAGES", "RunResult", "probe_nodes", "round_design", "run_design"]

STAGES = ("load design", "map to circuit", "simulate ideal circuit in ngspice", "run twin",
          "round to E-series parts", "simulate rounded circuit in ngspice", "compare",
          "export")
TILE_STAGES = tuple(stage.replace("in ngspice", "in ngspice tiles") for stage in STAGES)

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    """Everything a run produced; voltages are arrays of shape ``(n_times, n_nodes)`` in volts.

    ``tiles`` is None when ngspice ran each circuit whole. Otherwise it contains the
    ``TileOptions`` (``options``), the tiles per axis (``counts``), the Dask
    ``cluster`` (its kind, address, workers and start time) and the ``TileReport``
    of the ``ideal`` and the ``rounded`` circuit.
    """

    design: Design
    graph: nx.MultiGraph
    rounded_graph: nx.MultiGraph
    analysis: TransientAnalysis
    netlist: str
    rounded_netlist: str
    time_s: np.ndarray
    nodes: list[str]
    voltages: dict[str, np.ndarray]
    metrics: dict
    timings_s: dict[str, float]
    solver: dict
    tiles: dict | None = None

    @property
    def model_time(self) -> np.ndarray:
        return self.time_s / self.design.mapping.time_scale_s


def run_design(design_ref: Design | str | Path | None, tracker=None,
               export=None, *, tiles: TileOptions | None = None) -> RunResult:
    """Run every stage on a design, or on one given by path or bundled name.

    ``export`` is called with the RunResult as the last stage; without it the
    export stage is skipped. With ``tiles`` ngspice runs the ideal and the rounded
    circuit in tiles on one Dask cluster, which starts with the first of them.

    Raises:
        TileOptionError: when ``tiles`` does not fit the design's grid, or the
            circuit has an element that a tile boundary cannot cut.
    """
    names = STAGES if tiles is None else TILE_STAGES
    stages = Stages(tracker or SilentTracker(), len(names))
    design = stages.run(names[0], _load, design_ref)
    graph, analysis, netlist = stages.run(names[1], map_design, design)
    with contextlib.ExitStack() as stack:
        tiler = None
        if tiles is not None:
            tiler = TileSimulator(design, analysis, tiles, tile_counts(design, graph, tiles),
                                   stack)
        spice = _spice_stage(stages, names[2], design, netlist, graph, tiler)
        twin = stages.run(names[3], simulate_twin, design, graph)
        rounded, rounded_netlist = stages.run(names[4], _round, design, graph, analysis)
        rounded_spice = _spice_stage(stages, names[5], design, rounded_netlist, rounded, tiler)
    voltages, metrics = stages.run(names[6], _compare, design, graph, rounded, twin, spice,
                                   rounded_spice)
    solver = {"ngspice": analysis.options(), "twin": twin.options}
    result = RunResult(design, graph, rounded, analysis, netlist, rounded_netlist, twin.time_s,
                       twin.nodes, voltages, metrics, stages.timings, solver)
    analysis = run_analysis(result)
    if analysis is not None:
        result.metrics["analysis"] = analysis
    if tiler is None:
        result.timings_s["ngspice run (ideal)"] = spice.elapsed_s
        result.timings_s["ngspice run (rounded)"] = rounded_spice.elapsed_s
    else:
        result.tiles = tiler.record(spice, rounded_spice)
        result.timings_s.update(tiler.timings(spice, rounded_spice))
    if export is not None:
        stages.run(names[7], export, result)
    return result


def _spice_stage(stages, stage, design, netlist, graph, tiler):
    """Run ngspice on the whole ``netlist``, or on ``graph`` in tiles when ``tiler`` is set."""
    if tiler is None:
        return stages.run(stage, _simulate, design, netlist)
    return stages.run(stage, tiler, graph)


def _simulate(design: Design, netlist: str):
    try:
        return run_netlist(netlist)
    except SimulationError as err:
        if not design.npde.reactions:
            raise
        raise SimulationError(f"{err}\nhint: check npde.reaction in {design.source} for "
                              "values outside a function's domain (sqrt or log of a "
                              "negative, division by zero) or growth without bound") from err


def _load(design_ref) -> Design:
    return design_ref if isinstance(design_ref, Design) else load_design(design_ref)


def transient_analysis(design: Design) -> TransientAnalysis:
    settings, mapping = design.simulation, design.mapping
    stop = mapping.to_seconds(design.npde.end_time)
    max_step = settings.spice.max_step or design.npde.end_time / settings.twin_steps
    return TransientAnalysis(
        step_s=stop / (settings.output_times - 1),
        stop_s=stop,
        max_step_s=mapping.to_seconds(max_step),
        method=settings.spice.method,
        reltol=settings.spice.reltol,
        abstol_a=settings.spice.abstol_a,
        vntol_v=settings.spice.vntol_v,
    )


def probe_nodes(design: Design) -> dict[str, str]:
    """Return probe name to net name."""
    return {p.name: node_of(design.npde, p.field, p.index) for p in design.simulation.probes}


def map_design(design: Design):
    graph = build_circuit(design.npde, design.mapping)
    analysis = transient_analysis(design)
    try:
        netlist = write_netlist(graph, analysis, title=design.name, probes=list(probe_nodes(design).values()))
    except CircuitError as err:
        raise DesignError(f"{design.source}: the circuit is invalid: {err}") from err
    round_design(design, graph)  # fails here, before any simulation, on an unsellable value
    return graph, analysis, netlist


def simulate_twin(design: Design, graph: nx.MultiGraph) -> TwinResult:
    settings = design.simulation
    return run_twin(graph, stop_s=design.mapping.to_seconds(design.npde.end_time),
                    n_steps=settings.twin_steps,
                    save_every=settings.twin_steps // (settings.output_times - 1),
                    method=settings.twin_method)


def round_design(design: Design, graph: nx.MultiGraph) -> nx.MultiGraph:
    """Return the graph rounded to the design's series; DesignError names the range key."""
    try:
        return round_to_series(graph, design.mapping)
    except SpecError as err:
        raise DesignError(f"{design.source}: circuit.{err}") from err


def _round(design: Design, graph: nx.MultiGraph, analysis: TransientAnalysis):
    rounded = round_design(design, graph)
    netlist = write_netlist(rounded, analysis, title=design.name, probes=list(probe_nodes(design).values()))
    return rounded, netlist


def _reference(design: Design, model_time: np.ndarray) -> dict[str, np.ndarray]:
    """Return the exact semi-discrete solution in volts where one is known."""
    diffusion, scale = design.diffusion, design.mapping.voltage_scale_v
    if diffusion is not None and exact.has_mode_solution(diffusion):
        return {"reference": scale * exact.semi_discrete_modes(diffusion, model_time),
                "continuum": scale * exact.continuum_modes(diffusion, model_time)}
    if exact.is_linear(design.npde):
        return {"reference": scale * exact.linear_expm(design.npde, model_time)}
    return {}


def _spice_voltages(spice, graph: nx.MultiGraph, time_s: np.ndarray,
                    nodes: list[str]) -> np.ndarray:
    """Return ngspice's voltages at the twin's output times, shape ``(n_times, n_nodes)``."""
    if not isinstance(spice, TileReport):
        return resample(spice, nodes, time_s, assemble(graph).initial_v)
    # The tiles' twin keeps every print step of the analysis, and the pipeline's twin
    # saves the same steps, so the times agree to rounding.
    if spice.nodes != nodes or not np.allclose(spice.time_s, time_s, rtol=1e-9, atol=0.0):
        raise RuntimeError("the stitched tiles' nodes or output times differ from the twin's")
    return spice.spice_v


def _compare(design, graph, rounded, twin, spice, rounded_spice):
    time_s, nodes = twin.time_s, twin.nodes
    rounded_twin = simulate_twin(design, rounded)
    voltages = {
        "spice": _spice_voltages(spice, graph, time_s, nodes),
        "twin": twin.voltages,
        "spice_rounded": _spice_voltages(rounded_spice, rounded, time_s, nodes),
        "twin_rounded": rounded_twin.voltages,
    }
    voltages.update(_reference(design, time_s / design.mapping.time_scale_s))
    pairs = {
        "twin_vs_spice": ("twin", "spice"),
        "spice_vs_reference": ("spice", "reference"),
        "twin_vs_reference": ("twin", "reference"),
        "rounded_spice_vs_ideal_spice": ("spice_rounded", "spice"),
        "rounded_twin_vs_rounded_spice": ("twin_rounded", "spice_rounded"),
        "reference_vs_continuum": ("reference", "continuum"),
    }
    probes = probe_nodes(design)
    metrics = {}
    for label, (candidate, reference) in pairs.items():
        if reference not in voltages or candidate not in voltages:
            continue
        entry = error_metrics(voltages[candidate], voltages[reference])
        entry["per_probe"] = per_probe_metrics(voltages[candidate], voltages[reference], nodes,
                                               probes)
        metrics[label] = entry
    return voltages, metrics
