"""One Monte Carlo sample of a grid circuit: perturb the parts, run ngspice, score the result.

``run_sample`` is the task that a Dask worker runs. It uses the worker process's one
ngspice instance (``npdehw.sim.ngspice``), which removes each circuit after its run.
Sample ``k`` of a sweep with seed ``s`` draws its parts from
``numpy.random.default_rng(numpy.random.SeedSequence(s, spawn_key=(k,)))``, so a
sample gives the same numbers on any worker and in any order. Sample ``k`` of every
setting of a parameter sweep uses the same stream, so settings whose circuits have
the same parts see the same deviations.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import networkx as nx
import numpy as np
import psutil

from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.sim.compare import error_metrics, resample
from npdehw.sim.ngspice import ngspice_version, run_netlist
from npdehw.sim.sweep_perturb import perturb_parts

__all__ = ["FIGURES", "NOMINAL", "SampleContext", "run_locked", "run_sample", "sample_rng",
           "worker_record"]

NOMINAL = -1
"""Sample index of the run with every part at its marked (rounded) value."""

FIGURES = {
    "relative_l2": "relative L2 error of all node voltages over all output times against "
                   "the twin of the ideal circuit",
    "max_abs_over_peak": "largest absolute node-voltage error against the twin of the ideal "
                         "circuit, divided by that twin's peak absolute voltage",
    "relative_l2_vs_rounded": "relative L2 error against the twin of the rounded circuit "
                              "(parts at their marked values), which leaves the rounding out",
}
"""Figures of merit of a grid sample; ``probe:NAME`` adds the relative L2 error at a probe."""

_runs_in_process = 0
_ngspice_lock = threading.Lock()  # one ngspice run at a time, even on multi-threaded workers


@dataclasses.dataclass(frozen=True)
class SampleContext:
    """The data every sample of one setting shares; voltages have shape ``(n_times, n_nodes)``.

    Attributes:
        title: netlist title.
        graph: the circuit rounded to E-series parts (each part records its tolerance).
        analysis: the transient analysis of the design.
        time_s: output times in seconds, where the figures are taken.
        nodes: net names of the state vector.
        initial_v: capacitor initial voltages, used as ngspice's t = 0 point.
        ideal_v: twin of the ideal (unrounded) circuit at ``time_s``.
        rounded_v: twin of the rounded circuit at ``time_s``.
        probes: probe name to net name.
        seed: the sweep's root seed.
        distribution: ``normal`` or ``uniform`` (``npdehw.sim.sweep_perturb``).
        tolerances: kind to tolerance overriding the series tolerance.
        failing_samples: sample indices whose netlist gets an element ngspice rejects,
            a test aid for the failure path; empty in normal use.
    """

    title: str
    graph: nx.MultiGraph
    analysis: TransientAnalysis
    time_s: np.ndarray
    nodes: list[str]
    initial_v: np.ndarray
    ideal_v: np.ndarray
    rounded_v: np.ndarray
    probes: dict[str, str]
    seed: int
    distribution: str
    tolerances: dict[str, float]
    failing_samples: frozenset[int] = frozenset()


def sample_rng(seed: int, sample: int) -> np.random.Generator:
    """Return the generator of ``sample`` in a sweep with root ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(sample,)))


def _drop_cached_views(graph: nx.MultiGraph) -> None:
    """Delete the views networkx caches on a graph, which refer back to it.

    Without them the perturbed copy is freed as soon as it goes out of scope. With
    them it waits for Python's cyclic garbage collector, whose full passes grow rarer
    as the heap grows, and a worker's memory climbed by about 0.1 MB per 30 x 30
    sample (networkx 3.6; ``functools.cached_property`` keeps the views in ``__dict__``).
    """
    for name in ("nodes", "edges", "adj", "degree"):
        vars(graph).pop(name, None)


def sample_netlist(context: SampleContext, sample: int) -> str:
    """Return the netlist of ``sample``; ``NOMINAL`` keeps every part at its marked value."""
    if sample == NOMINAL:
        netlist = write_netlist(context.graph, context.analysis, title=context.title)
    else:
        graph = perturb_parts(context.graph, sample_rng(context.seed, sample),
                              context.distribution, context.tolerances)
        netlist = write_netlist(graph, context.analysis, title=context.title)
        _drop_cached_views(graph)
    if sample in context.failing_samples:
        netlist = netlist.replace("\n.end\n", "\nq_fault 0 0 0 no_such_model\n.end\n")
    return netlist


def score(voltages: np.ndarray, context: SampleContext) -> dict[str, float]:
    """Return every figure of merit of one sample's voltages."""
    ideal = error_metrics(voltages, context.ideal_v)
    figures = {
        "relative_l2": ideal["relative_l2"],
        "max_abs_over_peak": ideal["max_abs_over_peak"],
        "relative_l2_vs_rounded": error_metrics(voltages, context.rounded_v)["relative_l2"],
    }
    column = {node: k for k, node in enumerate(context.nodes)}
    for name, node in context.probes.items():
        k = column[node]
        figures[f"probe:{name}"] = error_metrics(voltages[:, k],
                                                 context.ideal_v[:, k])["relative_l2"]
    return figures


def run_sample(context: SampleContext, sample: int) -> dict:
    """Run one sample in ngspice and return its figures and run record.

    Raises:
        SimulationError: when ngspice fails on the sample's circuit.
    """
    start = time.perf_counter()
    result = run_locked(sample_netlist(context, sample))
    voltages = resample(result, context.nodes, context.time_s, context.initial_v)
    return worker_record(score(voltages, context), result.elapsed_s, start)


def run_locked(netlist: str):
    """Run ``netlist`` in this process's ngspice, one run at a time, and count the run."""
    global _runs_in_process
    with _ngspice_lock:
        _runs_in_process += 1
        return run_netlist(netlist)


def worker_record(figures: dict, ngspice_s: float, start: float) -> dict:
    """Return a sample's figures with its times and the worker's process record.

    ``start`` is the ``time.perf_counter()`` reading when the sample began.
    """
    return {
        "figures": figures,
        "ngspice_s": ngspice_s,
        "sample_s": time.perf_counter() - start,
        "worker_pid": os.getpid(),
        "worker_runs": _runs_in_process,  # ngspice runs started in this process
        "worker_rss_bytes": psutil.Process().memory_info().rss,
        "ngspice": ngspice_version(),
    }
