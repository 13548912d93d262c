"""One Monte Carlo sample of a crossbar network: program the devices, run ngspice, score.

``run_network_sample`` is the task that a Dask worker runs. Every sample maps the
trained layers onto quantized differential crossbars (``build_crossbar_network``)
and programs them with the device's programming noise and stuck-at faults. Sample
``k`` of a sweep with seed ``s`` takes one integer ``s_k`` from
``numpy.random.default_rng(numpy.random.SeedSequence(s, spawn_key=(k,)))``, and layer
``l`` is programmed with ``numpy.random.default_rng(s_k + l)``
(``npdehw.hw.devices.perturb_conductances``). The nominal run (sample ``-1``) programs
every device exactly to its level. Wires are ideal (no wire resistance). ngspice then
steps through the held-out inputs, and the error rate is the share of them whose
largest output is not their label.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from npdehw.hw.crossbar_circuit import Readout
from npdehw.hw.crossbar_network import CrossbarNetwork, build_crossbar_network
from npdehw.hw.devices import DeviceSpec
from npdehw.sim.batch import read_samples, sample_times
from npdehw.sim.crossbar_run import EDGE_S, HOLD_S, crossbar_netlist
from npdehw.sim.sweep_sample import NOMINAL, run_locked, sample_rng, worker_record

__all__ = ["NETWORK_FIGURES", "NetworkSampleContext", "program_network", "programming_seed",
           "run_network_sample"]

NETWORK_FIGURES = {
    "error_rate": "share of the held-out samples whose largest ngspice output is not their "
                  "label (1 - accuracy)",
    "class_flips": "share of the held-out samples whose predicted class differs from the "
                   "DC twin of the quantized crossbars without device variation",
}
"""Figures of merit of a crossbar network sample."""

SEED_LIMIT = 2**62


@dataclasses.dataclass(frozen=True)
class NetworkSampleContext:
    """The data every sample of one crossbar network setting shares.

    Attributes:
        title: netlist title.
        layers: the trained layers, ``(W, b, activation)`` with ``W`` of shape
            ``(n_out, n_in)``.
        device: levels, conductance range in siemens, noise and fault rates.
        read_v: read voltage in volts per input unit.
        readout: the column readout.
        max_rows: largest tile height in devices.
        max_cols: largest tile width in devices.
        inputs: held-out inputs, shape ``(n_samples, n_in)``.
        labels: their classes, shape ``(n_samples,)``.
        twin_classes: classes the DC twin of the quantized crossbars predicts.
        seed: the sweep's root seed.
        failing_samples: sample indices whose netlist gets an element ngspice rejects,
            a test aid for the failure path; empty in normal use.
    """

    title: str
    layers: list
    device: DeviceSpec
    read_v: float
    readout: Readout
    max_rows: int
    max_cols: int
    inputs: np.ndarray
    labels: np.ndarray
    twin_classes: np.ndarray
    seed: int
    failing_samples: frozenset[int] = frozenset()


def programming_seed(seed: int, sample: int) -> int | None:
    """Return ``s_k`` of the module docstring, or None for the nominal run."""
    if sample == NOMINAL:
        return None
    return int(sample_rng(seed, sample).integers(SEED_LIMIT))


def program_network(context: NetworkSampleContext, sample: int) -> CrossbarNetwork:
    """Return the crossbar network of ``sample`` with its programmed conductances."""
    return build_crossbar_network(context.layers, context.device, read_v=context.read_v,
                                  readout=context.readout, quantize=True,
                                  seed=programming_seed(context.seed, sample),
                                  max_rows=context.max_rows, max_cols=context.max_cols)


def _netlist(context: NetworkSampleContext, network: CrossbarNetwork, sample: int) -> str:
    netlist = crossbar_netlist(network, context.inputs, context.title)
    if sample in context.failing_samples:
        netlist = netlist.replace("\n.end\n", "\nq_fault 0 0 0 no_such_model\n.end\n")
    return netlist


def run_network_sample(context: NetworkSampleContext, sample: int) -> dict:
    """Run one sample in ngspice and return its figures and run record.

    Raises:
        SimulationError: when ngspice fails on the sample's circuit.
    """
    start = time.perf_counter()
    network = program_network(context, sample)
    result = run_locked(_netlist(context, network, sample))
    times = sample_times(len(context.inputs), HOLD_S, EDGE_S)
    outputs = read_samples(result, network.layers[-1].z_nets, times)
    classes = outputs.argmax(axis=1)
    figures = {"error_rate": float(np.mean(classes != context.labels)),
               "class_flips": float(np.mean(classes != context.twin_classes))}
    return worker_record(figures, result.elapsed_s, start)
