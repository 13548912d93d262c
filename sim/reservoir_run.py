"""A reservoir circuit driven by an input series, in ngspice and in the twin.

Input sample ``k`` is held from ``k T`` to ``(k + 1) T`` (``T`` the sample time) and
the drive ramps linearly to it over the first twin step of its hold
(``npdehw.sim.batch.pwl_points``). Both simulators read every grid node once per
sample, at the end of its hold, so row ``k`` of the states is the reservoir after it
has seen sample ``k``.

The twin integrates ``C dV/dt = -G V + b(t) + F(V)`` with the theta scheme on the
same step grid. ``b(t) = b0 + g d(t)`` is affine in the drive voltage ``d(t)``, and
``b0`` and ``g`` come from assembling the circuit with the drive sources at 0 V and at
1 V. The step from ``t_k`` to ``t_k+1`` uses ``theta b(t_k+1) + (1 - theta) b(t_k)``,
which is exact for a drive that is linear over each step, as the PWL drive is.
"""

from __future__ import annotations

import dataclasses
import time

import networkx as nx
import numpy as np
import torch

from npdehw.hw.graph import state_nodes
from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.hw.reservoir_circuit import drive_sources, with_drive
from npdehw.models.integrators import LinearStepper, single_thread
from npdehw.sim.batch import pwl_points, read_samples
from npdehw.sim.ngspice import run_netlist
from npdehw.sim.twin import assemble

__all__ = ["SampledStates", "reservoir_netlist", "run_reservoir_spice", "run_reservoir_twin",
           "sample_instants"]


@dataclasses.dataclass(frozen=True)
class SampledStates:
    """Grid-node voltages once per input sample: ``states_v`` is ``(n_samples, n_nodes)``."""

    nodes: list[str]
    states_v: np.ndarray
    elapsed_s: float
    options: dict


def sample_instants(n_samples: int, sample_s: float) -> np.ndarray:
    """Return the read time of each sample in seconds: the end of its hold."""
    return sample_s * np.arange(1, n_samples + 1)


def _drive_points(drive_v, sample_s: float, steps_per_sample: int):
    return pwl_points(np.asarray(drive_v, dtype=float), sample_s, sample_s / steps_per_sample)


def _analysis(n_samples: int, sample_s: float, steps_per_sample: int) -> TransientAnalysis:
    step = sample_s / steps_per_sample
    return TransientAnalysis(step_s=step, stop_s=n_samples * sample_s, max_step_s=step)


def reservoir_netlist(graph: nx.MultiGraph, drive_v, sample_s: float, steps_per_sample: int,
                      *, title: str) -> str:
    """Return the netlist that drives ``graph`` with ``drive_v`` (volts, one per sample)."""
    driven = with_drive(graph, _drive_points(drive_v, sample_s, steps_per_sample))
    return write_netlist(driven, _analysis(len(drive_v), sample_s, steps_per_sample),
                         title=title, probes=state_nodes(graph)[:8])


def run_reservoir_spice(graph: nx.MultiGraph, drive_v, sample_s: float,
                        steps_per_sample: int, *, title: str = "reservoir") -> SampledStates:
    """Run the driven reservoir in ngspice and return its sampled node voltages."""
    start = time.perf_counter()
    netlist = reservoir_netlist(graph, drive_v, sample_s, steps_per_sample, title=title)
    result = run_netlist(netlist)
    nodes = state_nodes(graph)
    states = read_samples(result, nodes, sample_instants(len(drive_v), sample_s))
    options = _analysis(len(drive_v), sample_s, steps_per_sample).options()
    return SampledStates(nodes, states, time.perf_counter() - start, options)


def _drive_response(graph: nx.MultiGraph):
    """Return ``(system, g)``: the circuit at 0 V drive and the currents per drive volt."""
    system = assemble(graph)
    unit = graph.copy()
    for key, sign in drive_sources(graph).items():
        for _, _, name, data in unit.edges(keys=True, data=True):
            if name == key:
                data["value"] = sign
    return system, assemble(unit).constant_a - system.constant_a


def run_reservoir_twin(graph: nx.MultiGraph, drive_v, sample_s: float, steps_per_sample: int,
                       *, method: str = "trapezoidal") -> SampledStates:
    """Integrate the driven reservoir in the twin and return its sampled node voltages."""
    start = time.perf_counter()
    system, gain = _drive_response(graph)
    dt = sample_s / steps_per_sample
    n_steps = len(drive_v) * steps_per_sample
    times, volts = zip(*_drive_points(drive_v, sample_s, steps_per_sample))
    drive = np.interp(dt * np.arange(n_steps + 1), times, volts)
    stepper = LinearStepper(system.capacitance_f, system.conductance_s, dt, method)
    blended = stepper.theta * drive[1:] + (1 - stepper.theta) * drive[:-1]
    constant, gain = torch.from_numpy(system.constant_a), torch.from_numpy(gain)
    state = torch.from_numpy(system.initial_v.copy())
    saved = []
    with torch.no_grad(), single_thread():
        for k in range(n_steps):
            currents = constant + float(blended[k]) * gain
            if system.nonlinear is None:
                state = stepper.step(state, currents)
            else:
                state = stepper.step_nonlinear(state, currents, system.nonlinear, k + 1)
            if (k + 1) % steps_per_sample == 0:
                saved.append(state)
    nodes = state_nodes(graph)
    columns = [system.nodes.index(node) for node in nodes]
    states = torch.stack(saved).numpy()[:, columns]
    options = {"method": method, "backend": stepper.backend, "dt_s": dt, "n_steps": n_steps}
    return SampledStates(nodes, states, time.perf_counter() - start, options)
