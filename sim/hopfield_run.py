"""Recall in the crossbar Hopfield circuit: ngspice and the twin.

The twin reduces the crossbar to its exact linear response, found by solving the
crossbar's own resistive network at DC (``run_crossbar_twin``) for a zero input and
each unit input: ``z = z0 + M u``. It then integrates the NPDE
``du/dt = -u + tanh(beta (M u + z0))`` through the usual circuit path (behavioural
sources, the implicit integrator), so both simulators see the programmed conductances.
"""

from __future__ import annotations

import numpy as np

from npdehw.hw.builder import build_circuit
from npdehw.hw.hopfield import HopfieldCircuit, neuron_nets
from npdehw.hw.mapping import CircuitMapping
from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.models.grid import Boundary, Grid
from npdehw.models.npde import NPDE, LinearTerm, NonlocalTerm
from npdehw.sim.crossbar_run import run_crossbar_twin
from npdehw.sim.ngspice import run_netlist
from npdehw.sim.twin import run_twin

__all__ = ["crossbar_response", "hopfield_npde", "run_hopfield_spice", "run_hopfield_twin"]


def crossbar_response(circuit: HopfieldCircuit) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(M, z0)`` with ``z = z0 + M u`` for the programmed crossbar."""
    n = len(circuit.crossbar.input_nets)
    probes = np.vstack([np.zeros(n), np.eye(n)])
    z, _ = run_crossbar_twin(circuit.crossbar, probes)
    return (z[1:] - z[0]).T, z[0]


def hopfield_npde(circuit: HopfieldCircuit, initial: np.ndarray, end_time: float) -> NPDE:
    """Return the NPDE the circuit computes, with the crossbar's measured response."""
    matrix, offset = crossbar_response(circuit)
    n = len(offset)
    zero_flux = Boundary(kind="zero_flux")
    grid = Grid(shape=(n,), spacing=(1.0,), boundaries={"x_low": zero_flux,
                                                        "x_high": zero_flux})
    decay = LinearTerm(target="u", source="u", kernel=np.array([-1.0]), label="decay")
    feedback = NonlocalTerm(weight=circuit.gain * matrix, bias=circuit.gain * offset,
                            activation="tanh", label="crossbar_feedback")
    return NPDE(grid=grid, fields=("u",), initial={"u": np.asarray(initial, float)},
                end_time=end_time, linear=(decay,), nonlocal_terms=(feedback,))


def _with_initial(circuit: HopfieldCircuit, initial: np.ndarray):
    graph = circuit.graph.copy()
    for node, value in zip(neuron_nets(len(initial)), initial):
        for _, _, data in graph.edges(node, data=True):
            if data["kind"] == "capacitor":
                data["ic"] = circuit.voltage_scale_v * float(value)
    return graph


def run_hopfield_spice(circuit: HopfieldCircuit, initial: np.ndarray, end_time: float,
                       steps: int = 400) -> np.ndarray:
    """Return the neuron states (model units) over ``steps + 1`` times from ngspice."""
    graph = _with_initial(circuit, initial)
    stop = circuit.time_scale_s * end_time
    analysis = TransientAnalysis(step_s=stop / steps, stop_s=stop, max_step_s=stop / steps,
                                 reltol=1e-6)
    result = run_netlist(write_netlist(graph, analysis, title="hopfield"))
    times = np.linspace(0, stop, steps + 1)
    nodes = neuron_nets(len(initial))
    states = [np.interp(times, np.concatenate([[0.0], result.time_s]),
                        np.concatenate([[circuit.voltage_scale_v * initial[k]],
                                        result.voltages[node]]))
              for k, node in enumerate(nodes)]
    return np.stack(states, axis=1) / circuit.voltage_scale_v


def run_hopfield_twin(circuit: HopfieldCircuit, initial: np.ndarray, end_time: float,
                      steps: int = 400) -> np.ndarray:
    """Return the neuron states (model units) over ``steps + 1`` times from the twin."""
    npde = hopfield_npde(circuit, initial, end_time)
    mapping = CircuitMapping(time_scale_s=circuit.time_scale_s,
                             voltage_scale_v=circuit.voltage_scale_v,
                             capacitance_f=circuit.capacitance_f)
    result = run_twin(build_circuit(npde, mapping), stop_s=circuit.time_scale_s * end_time,
                      n_steps=steps * 5, save_every=5)
    return result.voltages / circuit.voltage_scale_v
