"""Batches of images through a stencil circuit: in ngspice and in the DC twin.

Both return output images of shape ``(n_images, rows, cols)`` in pixel units. ngspice
runs one netlist whose pixel sources step through the images (``npdehw.sim.batch``).
The twin solves the same circuit graph at DC for all images at once
(``npdehw.sim.dc``).
"""

from __future__ import annotations

import time

import numpy as np

from npdehw.hw.netlist import write_netlist
from npdehw.hw.stencil_circuit import StencilCircuit
from npdehw.sim.batch import batch_analysis, pwl_points, read_samples, sample_times
from npdehw.sim.crossbar_run import EDGE_S, HOLD_S
from npdehw.sim.dc import solve_dc
from npdehw.sim.ngspice import run_netlist

__all__ = ["run_stencil_spice", "run_stencil_twin", "stencil_netlist"]


def _source_volts(circuit: StencilCircuit, images: np.ndarray) -> dict[str, np.ndarray]:
    """Return each pixel source's voltage per image, shape ``(n_images,)`` each."""
    images = np.asarray(images, dtype=float)
    if images.ndim != 3 or images.shape[1:] != circuit.shape:
        raise ValueError(f"images must have shape (n, {circuit.shape[0]}, "
                         f"{circuit.shape[1]}), got {images.shape}")
    flat = images.reshape(len(images), -1) * circuit.voltage_scale_v
    return {source: flat[:, k] for k, source in circuit.input_sources.items()}


def stencil_netlist(circuit: StencilCircuit, images: np.ndarray, title: str) -> str:
    """Return the netlist whose pixel sources step through ``images``.

    The output nets are listed in ``.print`` for ``ngspice -b`` (``tia`` readout).
    """
    graph = circuit.graph.copy()
    volts = _source_volts(circuit, images)
    for u, v, key in graph.edges(keys=True):
        if key in volts:
            graph.edges[u, v, key]["waveform"] = pwl_points(volts[key], HOLD_S, EDGE_S)
    probes = [] if circuit.probes_are_currents else circuit.probes
    return write_netlist(graph, batch_analysis(len(images), HOLD_S), title=title,
                         probes=probes)


def run_stencil_spice(circuit: StencilCircuit, images: np.ndarray,
                      title: str = "stencil") -> tuple[np.ndarray, float]:
    """Return ``(outputs, seconds)``: the output images in ngspice and the run time."""
    start = time.perf_counter()
    result = run_netlist(stencil_netlist(circuit, images, title))
    times = sample_times(len(images), HOLD_S, EDGE_S)
    values = read_samples(result, circuit.probes, times,
                          currents=circuit.probes_are_currents)
    return circuit.pixels(values), time.perf_counter() - start


def run_stencil_twin(circuit: StencilCircuit, images: np.ndarray
                     ) -> tuple[np.ndarray, float]:
    """Return ``(outputs, seconds)``: the output images from the DC twin and the run time."""
    start = time.perf_counter()
    sources = _source_volts(circuit, images)
    solution = solve_dc(circuit.graph, sources, len(images))
    table = solution.currents if circuit.probes_are_currents else solution.voltages
    values = np.stack([table[name] for name in circuit.probes], axis=1)
    return circuit.pixels(values), time.perf_counter() - start
