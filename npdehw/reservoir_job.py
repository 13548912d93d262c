"""The reservoir job: a reaction-diffusion grid as a physical reservoir on a time-series task.

The design (``npdehw.reservoir_design``) drives a grid circuit with a task's input
series through input resistors. ngspice and the twin read every grid node once per
input sample, and closed-form ridge readouts (``npdehw.models.readout``) are fitted
after the washout and scored on the held-out test part by NMSE:

- trained and tested on ngspice states, on twin states, and trained on the twin but
  tested on ngspice (the co-design case: a readout computed from the digital twin
  and deployed on the circuit);
- on the circuit rounded to E-series parts: fitted and scored on its ngspice states,
  fitted on the ideal twin or on the rounded circuit's twin and scored on ngspice;
- two baselines without a reservoir: a readout on a tapped delay line of the input
  with as many taps as the task's order, and with as many as the reservoir has nodes.

Stages print one line each unless ``quiet``. The run folder is written by
``npdehw.reservoir_report``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from npdehw.hw.reservoir_circuit import build_reservoir_circuit
from npdehw.hw.rounding import round_to_series
from npdehw.models.series_readout import delay_line, score_readout
from npdehw.reservoir_design import ReservoirDesign, parse_reservoir_design
from npdehw.sim.compare import error_metrics
from npdehw.sim.reservoir_run import run_reservoir_spice, run_reservoir_twin
from npdehw.stages import SilentTracker, Stages, StageTracker
from npdehw.tomlkeys import Table
from npdehw.training_setup import clear_checkpoints

__all__ = ["READOUT_CASES", "ReservoirOutcome", "parse", "run", "run_reservoir",
           "score_states"]

READOUT_CASES = {
    "spice_on_spice": ("ngspice", "ngspice"),
    "twin_on_twin": ("twin", "twin"),
    "twin_on_spice": ("twin", "ngspice"),
    "rounded_on_rounded": ("rounded", "rounded"),
    "twin_on_rounded": ("twin", "rounded"),
    "rounded_twin_on_rounded": ("rounded_twin", "rounded"),
}
"""Readout case to (states it is fitted on, states it is scored on)."""

RIDGE_SWEEP = tuple(float(f"1e{k}") for k in range(-12, -1))
STAGES = ("build and round the circuit", "simulate in ngspice, ideal parts",
          "run the twin, ideal parts", "simulate in ngspice, rounded parts",
          "run the twin, rounded parts", "fit and score readouts")


@dataclasses.dataclass
class ReservoirOutcome:
    """Everything a run produced: circuits, sampled states, readouts and metrics.

    ``states`` maps ``ngspice``, ``twin``, ``rounded`` and ``rounded_twin`` (the two
    simulators on the rounded circuit) to arrays of shape ``(n_samples, n_nodes)`` in
    volts. ``predictions`` maps each readout case and baseline to its test-part
    prediction.
    """

    graph: object
    rounded_graph: object
    nodes: list[str]
    states: dict
    readouts: dict
    predictions: dict
    metrics: dict
    timings_s: dict


def parse(root: Table, name: str, description: str, path: Path) -> ReservoirDesign:
    """Read a design whose top-level table is ``[reservoir]``."""
    return parse_reservoir_design(root, name, description, path)


def run(design: ReservoirDesign, out: Path, *, quiet: bool = False,
        fresh: bool = False) -> list[str]:
    """Simulate, fit and score the readouts, write the run folder; return summary lines.

    ``fresh`` has no effect: the readouts are closed-form, so there are no training
    checkpoints to resume from.
    """
    from npdehw.reservoir_report import export_reservoir_run

    outcome = run_reservoir(design, quiet=quiet)
    export_reservoir_run(design, outcome, out)
    clear_checkpoints(out)
    return summary_lines(design, outcome.metrics)


def run_reservoir(design: ReservoirDesign, *, quiet: bool = True) -> ReservoirOutcome:
    """Run both simulators on the ideal and the rounded circuit, then score the readouts."""
    stages = Stages(SilentTracker() if quiet else StageTracker(), len(STAGES))
    graph, rounded = stages.run(STAGES[0], _circuits, design)
    drive = design.drive_v()
    sample_s = design.mapping.to_seconds(design.sample_time)
    steps = design.steps_per_sample
    spice = stages.run(STAGES[1], run_reservoir_spice, graph, drive, sample_s, steps,
                       title=design.name)
    twin = stages.run(STAGES[2], run_reservoir_twin, graph, drive, sample_s, steps)
    built = stages.run(STAGES[3], run_reservoir_spice, rounded, drive, sample_s, steps,
                       title=f"{design.name}_rounded")
    built_twin = stages.run(STAGES[4], run_reservoir_twin, rounded, drive, sample_s, steps)
    states = {"ngspice": spice.states_v, "twin": twin.states_v, "rounded": built.states_v,
              "rounded_twin": built_twin.states_v}
    readouts, predictions, metrics = stages.run(STAGES[5], score_states, design, states)
    metrics["states"] = {
        "twin_vs_ngspice": error_metrics(twin.states_v, spice.states_v),
        "rounded_twin_vs_rounded_ngspice": error_metrics(built_twin.states_v, built.states_v),
        "rounded_vs_ideal_ngspice": error_metrics(built.states_v, spice.states_v)}
    metrics["solver"] = {"ngspice": spice.options, "twin": twin.options}
    metrics["simulator_seconds"] = {"ngspice": spice.elapsed_s, "twin": twin.elapsed_s,
                                    "ngspice_rounded": built.elapsed_s,
                                    "twin_rounded": built_twin.elapsed_s}
    return ReservoirOutcome(graph, rounded, spice.nodes, states, readouts, predictions, metrics,
                            stages.timings)


def _circuits(design: ReservoirDesign):
    """Return the ideal circuit and its E-series copy; parsing checked the catalogue range."""
    graph = build_reservoir_circuit(design.spec, design.mapping, design.end_time)
    return graph, round_to_series(graph, design.mapping)


def score_states(design: ReservoirDesign, states: dict):
    """Return ``(readouts, predictions, metrics)`` of every readout case and baseline."""
    split, targets = design.split, design.targets
    readouts, predictions, nmse, sweep = {}, {}, {}, {}
    for case, (train, test) in READOUT_CASES.items():
        readout, score, prediction = score_readout(states[train], targets, split, design.ridge,
                                                   states[test])
        readouts[case], predictions[case], nmse[case] = readout, prediction, score
        sweep[case] = [score_readout(states[train], targets, split, ridge, states[test])[1]
                       for ridge in RIDGE_SWEEP]
    n_nodes = states["ngspice"].shape[1]
    baselines = {"delay_line_order": design.order, "delay_line_nodes": n_nodes}
    for case, taps in baselines.items():
        _, score, prediction = score_readout(delay_line(design.inputs, taps), targets, split,
                                             design.ridge)
        predictions[case], nmse[case] = prediction, score
    metrics = {"nmse": nmse, "baseline_taps": baselines,
               "ridge_sweep": {"ridge": list(RIDGE_SWEEP), "nmse": sweep},
               "target_variance": float(np.var(targets[split.test_part]))}
    return readouts, predictions, metrics


def summary_lines(design: ReservoirDesign, metrics: dict) -> list[str]:
    """Return the headline figures of a run, one line each."""
    nmse, taps = metrics["nmse"], metrics["baseline_taps"]
    return [
        f"test NMSE, NARMA-{design.order}: ngspice {nmse['spice_on_spice']:.4f}, "
        f"twin {nmse['twin_on_twin']:.4f}, twin readout on ngspice "
        f"{nmse['twin_on_spice']:.4f}",
        f"test NMSE, rounded parts: ngspice {nmse['rounded_on_rounded']:.4f}, twin readout "
        f"on ngspice {nmse['rounded_twin_on_rounded']:.4f} (ideal twin's readout "
        f"{nmse['twin_on_rounded']:.4f})",
        f"no reservoir (delay line): {taps['delay_line_order']} taps "
        f"{nmse['delay_line_order']:.4f}, {taps['delay_line_nodes']} taps "
        f"{nmse['delay_line_nodes']:.4f}",
        f"twin vs ngspice states: relative L2 "
        f"{metrics['states']['twin_vs_ngspice']['relative_l2']:.3e}",
    ]
