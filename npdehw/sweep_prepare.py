"""The nominal results a grid sweep scores against, computed once per setting.

For each setting the circuit is built and rounded to its E-series parts as in
``npdehw run``, and the twin runs on the ideal and on the rounded circuit. The
samples then perturb the rounded circuit (``npdehw.sim.sweep_sample``).
"""

from __future__ import annotations

import os

import numpy as np

from npdehw.design import Design
# The stage functions of npdehw run, so a sweep simulates exactly the circuit a run builds.
from npdehw.pipeline import transient_analysis, map_design, simulate_twin, probe_nodes, round_design
from npdehw.sim.sweep_sample import SampleContext
from npdehw.sim.twin import assemble
from npdehw.sweep_options import SweepOptionError, SweepOptions

__all__ = ["FAILING_SAMPLES_VARIABLE", "grid_context"]

FAILING_SAMPLES_VARIABLE = "NPDEHW_SWEEP_FAILING_SAMPLES"
"""Test aid: comma-separated sample indices whose netlist gets an element ngspice rejects."""


def failing_samples() -> frozenset[int]:
    """Return the sample indices named by ``NPDEHW_SWEEP_FAILING_SAMPLES``, if set."""
    text = os.environ.get(FAILING_SAMPLES_VARIABLE, "").strip()
    if not text:
        return frozenset()
    try:
        return frozenset(int(part) for part in text.split(","))
    except ValueError:
        raise SweepOptionError(f"{FAILING_SAMPLES_VARIABLE}={text!r} must list sample "
                               "indices such as 3,5") from None


def grid_context(design: Design, options: SweepOptions) -> SampleContext:
    """Return what every sample of ``design`` shares: rounded circuit and nominal twins.

    Raises:
        DesignError: when the circuit is invalid or a part is outside the catalogue.
    """
    graph, _, _ = map_design(design)
    rounded = round_design(design, graph)
    ideal = simulate_twin(design, graph)
    rounded_twin = simulate_twin(design, rounded)
    probes = probe_nodes(design)
    _check_figure(options.figure, probes, design)
    return SampleContext(
        title=design.name, graph=rounded, analysis=transient_analysis(design), time_s=ideal.time_s,
        nodes=list(ideal.nodes), initial_v=assemble(rounded).initial_v,
        ideal_v=np.asarray(ideal.voltages), rounded_v=np.asarray(rounded_twin.voltages),
        probes=probes, seed=options.seed, distribution=options.distribution,
        tolerances=dict(options.tolerances), failing_samples=failing_samples())


def _check_figure(figure: str, probes: dict, design: Design) -> None:
    probe = figure.removeprefix("probe:")
    if figure.startswith("probe:") and probe not in probes:
        raise SweepOptionError(f"--figure {figure}: {design.source} has no probe {probe!r}; "
                               f"its probes are {sorted(probes)}")
