"""The stages of the inverse job: record, observe, train, write back, round, verify.

``run_inverse`` prints one line per stage to stderr (unless quiet) and returns an
``InverseResult`` that ``npdehw.inverse_report`` writes out. Voltages are arrays of
shape ``(n_excitations, n_times, n_probes)`` in volts.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import torch

from npdehw.hw.edge_grid import (build_edge_grid, edge_positions, edge_resistors,
                                 scale_resistors, with_initial_voltages)
from npdehw.hw.graph import GROUND, components, node_name, state_nodes
from npdehw.hw.mapping import CircuitMapping
from npdehw.hw.netlist import TransientAnalysis
from npdehw.hw.rounding import round_to_series
from npdehw.hw.writeback import write_back
from npdehw.models.integrators import single_thread
from npdehw.models.observability import cramer_rao_bounds, log_sensitivities
from npdehw.models.rc_twin import RCTwin
from npdehw.models.smooth_field import smooth_factors
from npdehw.models.training import epoch_order, fit
from npdehw.sim.compare import error_metrics
from npdehw.sim.probe_record import record_probes
from npdehw.stages import SilentTracker, Stages, StageTracker

__all__ = ["InverseProblem", "InverseResult", "LOSS_UNIT", "build_problem", "run_inverse"]

# The loss is the mean squared mismatch in units of (LOSS_UNIT x RMS probe voltage)^2.
# torch's L-BFGS stops on an absolute loss change of 1e-9 (its default tolerance_change
# in torch 2.x), which a plain relative squared error reaches long before the fit does.
LOSS_UNIT = 1e-3
PARAMETER = "edge_conductance"


@dataclasses.dataclass
class InverseProblem:
    """The circuits and the experiment of one inverse design.

    Attributes:
        mapping: scales and component catalogue, with the nominal R C as
            ``time_scale_s``.
        guess: the grid with every edge at the nominal resistance.
        hidden: the grid with the hidden edge resistances.
        edges: edge resistor designators, in parameter order.
        positions: edge midpoints in grid units, shape ``(n_edges, ndim)``.
        hidden_ohm: hidden resistances, shape ``(n_edges,)``.
        nodes: state node names.
        starts: initial voltages of the nodes, shape ``(n_excitations, n_nodes)``.
        probes: probed node names.
        probe_index: state indices of the probed nodes.
        time_s: observation times in seconds, shape ``(n_times,)``.
    """

    mapping: CircuitMapping
    guess: nx.MultiGraph
    hidden: nx.MultiGraph
    edges: list[str]
    positions: np.ndarray
    hidden_ohm: np.ndarray
    nodes: list[str]
    starts: np.ndarray
    probes: list[str]
    probe_index: list[int]
    time_s: np.ndarray

    def start_maps(self) -> list[dict[str, float]]:
        return [dict(zip(self.nodes, row)) for row in self.starts]


@dataclasses.dataclass
class InverseResult:
    """Everything the run folder reports (``npdehw.inverse_report`` writes it)."""

    problem: InverseProblem
    data: np.ndarray
    spice_options: dict
    bounds: np.ndarray
    observable: np.ndarray
    fits: list[dict]
    trained: nx.MultiGraph
    rounded: nx.MultiGraph
    voltages: dict[str, np.ndarray]
    metrics: dict
    timings_s: dict[str, float]


def build_problem(design) -> InverseProblem:
    """Return the guess and hidden circuits, the excitations, probes and times."""
    time_scale = design.resistance_ohm * design.capacitance_f
    mapping = CircuitMapping(time_scale_s=time_scale, capacitance_f=design.capacitance_f,
                             resistor_series=design.resistor_series,
                             capacitor_series=design.capacitor_series)
    guess = build_edge_grid(design.shape, design.boundary, mapping)
    located = edge_positions(guess)
    edges = list(located)
    positions = np.array([located[name] for name in edges])
    factors = smooth_factors(positions, design.correlation_length, design.field_seed,
                             *design.hidden_ratio)
    hidden = scale_resistors(guess, dict(zip(edges, factors)))
    nodes = state_nodes(guess)
    rng = np.random.default_rng(design.excitation_seed)
    starts = rng.uniform(-design.excitation_v, design.excitation_v,
                         size=(design.excitations, len(nodes)))
    probes = nodes if design.probes is None else [node_name(i) for i in design.probes]
    position = {node: k for k, node in enumerate(nodes)}
    times = time_scale * design.end_time * np.arange(1, design.output_times + 1) \
        / design.output_times
    return InverseProblem(mapping, guess, hidden, edges, positions,
                          design.resistance_ohm * factors, nodes, starts, list(probes),
                          [position[p] for p in probes], times)


def run_inverse(design, setup, *, quiet: bool = False) -> InverseResult:
    """Run every stage of the inverse job with the run's ``TrainingSetup``.

    Torch runs on one thread: on a loaded 2-core machine two threads made the twin's
    backward pass up to 20 times slower.
    """
    with single_thread():
        return _run_stages(design, setup, quiet)


def _run_stages(design, setup, quiet: bool) -> InverseResult:
    tracker = SilentTracker() if quiet else StageTracker(lines=True)
    stages = Stages(tracker, 5 + len(design.noise_levels))
    problem = stages.run("build hidden and guess circuits", build_problem, design)
    analysis = _analysis(design, problem)
    record = stages.run("record the hidden circuit in ngspice", record_probes, problem.hidden,
                        problem.start_maps(), problem.time_s, problem.probes, analysis,
                        title=design.name)
    bounds = stages.run("observability at the hidden values", _bounds, design, problem,
                        record.voltages)
    fits = []
    for k, level in enumerate(design.noise_levels):
        fits.append(stages.run(f"train the twin (noise {100 * level:g} %)", _fit, design,
                               problem, record.voltages, k, setup, quiet))
    trained, rounded = stages.run("write back and round", _write_back, design, problem,
                                  fits[0])
    voltages = stages.run("verify in ngspice and the twin", _verify, design, problem,
                          analysis, trained, rounded)
    voltages["hidden_spice"] = record.voltages
    observable = bounds <= design.observability_limit
    metrics = _metrics(design, problem, fits, rounded, voltages, bounds, observable)
    return InverseResult(problem, record.voltages, record.options, bounds, observable, fits,
                         trained, rounded, voltages, metrics, stages.timings)


def _analysis(design, problem) -> TransientAnalysis:
    spice = design.spice
    interval = problem.time_s[0]
    max_step = interval / 5
    if spice.max_step is not None:
        max_step = spice.max_step * problem.mapping.time_scale_s
    return TransientAnalysis(step_s=interval, stop_s=float(problem.time_s[-1]),
                             max_step_s=min(max_step, interval), method=spice.method,
                             reltol=spice.reltol, abstol_a=spice.abstol_a,
                             vntol_v=spice.vntol_v)


def _trajectory(twin, design, problem, starts) -> torch.Tensor:
    """Return the twin's probe voltages, shape ``(n_starts, n_times, n_probes)``."""
    times = np.concatenate([[0.0], problem.time_s])
    max_step = problem.time_s[-1] / design.twin_steps
    voltages = twin(times, starts, method=design.twin_method, max_step_s=max_step)
    return voltages[1:, :, problem.probe_index].permute(1, 0, 2)


def _bounds(design, problem, data) -> np.ndarray:
    """Return the Cramer-Rao bound of each edge's relative resistance error."""
    twin = RCTwin(problem.hidden, problem.edges)
    capacitance, matrix, _ = (value.detach() for value in twin.system())
    sensitivities = log_sensitivities(capacitance, matrix, twin.trainable_incidence(),
                                      twin.conductance().detach(), problem.starts,
                                      problem.time_s, problem.probe_index)
    scale = float(np.sqrt(np.mean(data ** 2)))
    return cramer_rao_bounds(sensitivities, design.observability_noise * scale)


def _fit(design, problem, data, k, setup, quiet) -> dict:
    """Train the edge conductances on ``data`` plus noise level ``k`` and return the fit."""
    level = design.noise_levels[k]
    scale = float(np.sqrt(np.mean(data ** 2)))
    generator = np.random.default_rng([design.noise_seed, k])
    target = torch.from_numpy(data + level * scale * generator.standard_normal(data.shape))
    nominal = 1.0 / design.resistance_ohm
    low, high = design.search_ratio
    twin = RCTwin(problem.guess, problem.edges,
                  conductance_range_s=(nominal / high, nominal / low),
                  initial_conductance_s=nominal)
    starts = torch.from_numpy(problem.starts)
    unit = (LOSS_UNIT * scale) ** 2

    def batch_loss(chosen):
        mismatch = _trajectory(twin, design, problem, starts[chosen]) - target[chosen]
        return torch.mean(mismatch ** 2) / unit

    def batches(epoch):
        for chosen in epoch_order(len(starts), design.training, epoch):
            yield lambda chosen=chosen: batch_loss(chosen)

    history = fit(twin, batches, design.training, checkpoint=setup.checkpoint(f"noise_{k}"),
                  fingerprint=setup.fingerprint, label=f"noise {100 * level:g} %",
                  progress=not quiet)
    recovered = np.array([1.0 / float(g) for g in twin.conductance().detach()])
    return {"noise": level, "noise_std_v": level * scale, "resistance_ohm": recovered,
            "history": history}


def _write_back(design, problem, fit_record):
    values = dict(zip(problem.edges, fit_record["resistance_ohm"]))
    started = with_initial_voltages(problem.guess, problem.start_maps()[0])
    trained = write_back(started, values, PARAMETER, fit_record["history"].best_epoch)
    return trained, round_to_series(trained, problem.mapping)


def _verify(design, problem, analysis, trained, rounded) -> dict[str, np.ndarray]:
    """Return the probes of the trained (ideal), rounded and digital circuits."""
    voltages = {}
    for label, graph in (("ideal_spice", trained), ("rounded_spice", rounded)):
        voltages[label] = record_probes(graph, problem.start_maps(), problem.time_s,
                                        problem.probes, analysis, title=design.name).voltages
    starts = torch.from_numpy(problem.starts)
    with torch.no_grad():
        for label, graph in (("digital_twin", trained), ("hidden_twin", problem.hidden)):
            voltages[label] = _trajectory(RCTwin(graph, ()), design, problem,
                                          starts).numpy()
    return voltages


def _edge_errors(recovered, hidden) -> np.ndarray:
    return np.asarray(recovered) / np.asarray(hidden) - 1.0


def _metrics(design, problem, fits, rounded, voltages, bounds, observable) -> dict:
    hidden = problem.hidden_ohm
    by_name = {data["designator"]: data["value"] for data in edge_resistors(rounded)}
    rounded_ohm = np.array([by_name[name] for name in problem.edges])
    metrics = {"edges": len(problem.edges), "observable_edges": int(observable.sum()),
               "unobservable": [name for name, seen in zip(problem.edges, observable)
                                if not seen],
               "fits": [_fit_metrics(design, problem, fit_record, bounds, observable)
                        for fit_record in fits],
               "rounded_edges": _error_summary(_edge_errors(rounded_ohm, hidden), observable,
                                               design.tolerance)}
    reference = voltages["hidden_spice"]
    labels = {"digital_twin": "twin, trained values", "ideal_spice": "ngspice, trained values",
              "rounded_spice": f"ngspice, {design.resistor_series} parts",
              "hidden_twin": "twin, hidden values"}
    metrics["against_hidden_spice"] = {
        label: {"description": text, **error_metrics(voltages[label], reference)}
        for label, text in labels.items()}
    metrics["twin_vs_spice_trained"] = error_metrics(voltages["digital_twin"],
                                                     voltages["ideal_spice"])
    return metrics


def _fit_metrics(design, problem, fit_record, bounds, observable) -> dict:
    errors = _edge_errors(fit_record["resistance_ohm"], problem.hidden_ohm)
    history = fit_record["history"]
    predicted = bounds[observable] * fit_record["noise"] / design.observability_noise
    return {"noise": fit_record["noise"], "noise_std_v": fit_record["noise_std_v"],
            **_error_summary(errors, observable, design.tolerance),
            "predicted_rms_error": float(np.sqrt(np.mean(predicted ** 2)))
            if len(predicted) else None,
            "parallel_groups": _parallel_errors(problem, fit_record["resistance_ohm"]),
            "epochs": len(history.loss), "best_epoch": history.best_epoch,
            "final_loss": history.monitored[history.best_epoch - 1],
            "seconds": history.seconds}


def _error_summary(errors, observable, tolerance) -> dict:
    seen = np.abs(errors[observable])
    return {"max_abs_error_observable": float(seen.max()) if len(seen) else None,
            "rms_error_observable": float(np.sqrt(np.mean(seen ** 2))) if len(seen) else None,
            "within_tolerance_observable": int((seen <= tolerance).sum()),
            "max_abs_error_all": float(np.abs(errors).max())}


def _parallel_errors(problem, recovered) -> dict:
    """Return the error of the summed conductance of edges that are in parallel.

    Two edges are in parallel when they join the same node to fixed nets at equal
    voltage, such as the two boundary resistors of a corner node. The probes see
    only their sum.
    """
    graph = problem.hidden
    fixed = {data["pos"]: data["value"] for data in components(graph, "vsource")}
    fixed[GROUND] = 0.0
    column = {name: k for k, name in enumerate(problem.edges)}
    groups = {}
    for data in edge_resistors(graph):
        ends = tuple(sorted(f"fixed at {fixed[net]!r} V" if net in fixed else net
                            for net in (data["pos"], data["neg"])))
        groups.setdefault(ends, []).append(column[data["designator"]])
    errors = []
    for members in groups.values():
        if len(members) > 1:
            hidden = np.sum(1.0 / problem.hidden_ohm[members])
            errors.append(float(np.sum(1.0 / np.asarray(recovered)[members]) / hidden - 1.0))
    return {"count": len(errors),
            "max_abs_conductance_error": max(map(abs, errors)) if errors else None}
