"""A 3 x 3 stencil with a bias as a resistor circuit: one differential column pair per pixel.

Every input pixel ``x[r, c]`` is a voltage source of ``s x`` volts on net ``x_r_c``
(``s`` = ``voltage_scale_v``), and a source of ``s`` volts drives the bias net. Output
pixel ``(r, c)`` is built from single-column crossbar tiles
(``npdehw.hw.crossbar_circuit``) whose rows are its in-image neighbours and the bias
net. Tap ``k`` with weight ``w_k`` is a resistor of ``R_f / |w_k|`` ohms into the plus
column when ``w_k > 0`` and into the minus column when ``w_k < 0``. Pixels outside the
image contribute nothing (zero padding). With the columns at virtual ground,
``R_f (I+ - I-) = s y``, where ``y`` is the stencil output. Two readouts:

- ``ideal``: a zero-volt source per column, and ``y`` is computed from the two
  currents; ``R_f`` is then only the weight scale, not a part. A column without taps
  (at the image border, say) is left out;
- ``tia``: the plus column feeds a transimpedance amplifier (op-amp macro model with
  feedback ``R_f``), whose output ``-R_f I+`` drives the minus column through a
  further ``R_f``. A second transimpedance amplifier on that column outputs
  ``-R_f (I- - I+) = s y``, so the output net carries the pixel in volts and every
  part is a resistor or an op-amp.

A tap whose resistor would exceed the catalogue's largest resistance is left open
(pruned). One whose resistor would be below the smallest raises SpecError.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import NamedTuple

import networkx as nx
import numpy as np

from npdehw.errors import SpecError
from npdehw.hw.crossbar_circuit import Readout, add_crossbar_tile
from npdehw.hw.graph import GROUND, _add_component, _Designators
from npdehw.hw.writeback import write_back

__all__ = ["BIAS_NET", "StencilCircuit", "build_stencil_circuit", "parameter_names",
           "tap_conductance", "with_provenance"]

BIAS_NET = "bias_row"


class _Tap(NamedTuple):
    """One resistor into a column: the net it reads, its parameter, weight and siemens."""

    net: str
    name: str | None
    weight: float | None
    siemens: float


@dataclasses.dataclass(frozen=True)
class StencilCircuit:
    """The circuit graph of a stencil and where its inputs and outputs are.

    Attributes:
        graph: the circuit graph.
        shape: image rows and columns.
        input_sources: designator of each pixel's voltage source by the pixel's index in
            C order; a pixel that no tap reads has none.
        probes: the output signals: output nets (``tia``) or column ammeters (``ideal``).
        probe_map: per probe, the index in C order of the output pixel it belongs to and
            its sign (-1 for an ``ideal`` minus column). An output pixel without taps
            has no probe and reads 0.
        readout: the column readout; its ``feedback_ohm`` is ``R_f``.
        voltage_scale_v: volts per pixel unit.
        taps: designator to ``(parameter name, weight)`` for every tap resistor.
        pruned: parameter names left open because their resistor was too large.
    """

    graph: nx.MultiGraph
    shape: tuple[int, int]
    input_sources: dict[int, str]
    probes: list[str]
    probe_map: list[tuple[int, float]]
    readout: Readout
    voltage_scale_v: float
    taps: dict[str, tuple[str, float]]
    pruned: tuple[str, ...]

    @property
    def probes_are_currents(self) -> bool:
        """True when the probes are ammeters (``ideal`` readout), False for nets."""
        return self.readout.kind == "ideal"

    def pixels(self, values: np.ndarray) -> np.ndarray:
        """Convert probe values of shape ``(n, len(probes))`` into output images."""
        values = np.asarray(values, dtype=float)
        scale = self.readout.feedback_ohm if self.probes_are_currents else 1.0
        images = np.zeros((len(values), self.shape[0] * self.shape[1]))
        for column, (pixel, sign) in enumerate(self.probe_map):
            images[:, pixel] += sign * scale * values[:, column]
        return (images / self.voltage_scale_v).reshape((len(values),) + self.shape)


def parameter_names() -> list[str]:
    """Return the names of the stencil's parameters: ``weight[a,b]`` in C order, then ``bias``."""
    return [f"weight[{a},{b}]" for a, b in itertools.product(range(3), repeat=2)] + ["bias"]


def tap_conductance(weight: float, feedback_ohm: float,
                    resistance_range_ohm: tuple[float, float]) -> float:
    """Return the conductance in siemens of a tap of ``weight``, or 0 when it is left open.

    Raises:
        SpecError: when the resistor ``R_f / |weight|`` is below the catalogue range.
    """
    low, high = resistance_range_ohm
    if weight == 0 or feedback_ohm / abs(weight) > high:
        return 0.0
    if feedback_ohm / abs(weight) < low:
        raise SpecError("resistance_range_ohm", f"weight {weight:.6g} needs "
                        f"{feedback_ohm / abs(weight):.6g} ohm with feedback_ohm "
                        f"{feedback_ohm:.6g}, below the catalogue's {low:g} ohm; lower "
                        "the range's low end or raise feedback_ohm")
    return abs(weight) / feedback_ohm


def build_stencil_circuit(weight: np.ndarray, bias: float, shape: tuple[int, int] = (8, 8),
                          *, readout: Readout = Readout(kind="tia"),
                          voltage_scale_v: float = 1.0,
                          resistance_range_ohm: tuple[float, float] = (1.0, 10e6)
                          ) -> StencilCircuit:
    """Return the circuit that applies the stencil ``weight`` (3 x 3) and ``bias`` to images.

    ``weight[a, b]`` weights the pixel at offset ``(a - 1, b - 1)``, as in
    ``npdehw.models.stencil_training``.

    NOTE: ``check_circuit`` rejects circuits made of separate groups of nodes even when
    each group reaches ground. Without a bias tap, a stencil whose taps of one sign all
    lie along one axis (or at the centre only) is such a circuit, and is rejected.
    """
    weight = np.asarray(weight, dtype=float)
    if weight.shape != (3, 3) or not np.all(np.isfinite(weight)) or not math.isfinite(bias):
        raise ValueError(f"the stencil must be a finite 3 x 3 kernel and bias, got shape "
                         f"{weight.shape} and bias {bias!r}")
    values = dict(zip(parameter_names(), [*weight.ravel(), bias]))
    conductance = {name: tap_conductance(value, readout.feedback_ohm, resistance_range_ohm)
                   for name, value in values.items()}
    rows = _tap_rows(values, conductance, shape)
    graph = nx.MultiGraph(title="stencil")
    graph.add_node(GROUND, kind="ground")
    counter = _Designators()
    sources = _add_sources(graph, counter, rows, shape, voltage_scale_v)
    probes, probe_map, taps = [], [], {}
    add = _add_tia_pixel if readout.kind == "tia" else _add_ideal_pixel
    for pixel, ((r, c), pixel_taps) in enumerate(rows.items()):
        if not pixel_taps:
            continue
        for probe, sign in add(graph, counter, pixel_taps, f"y{r}_{c}", readout, taps):
            probes.append(probe)
            probe_map.append((pixel, sign))
    pruned = tuple(name for name, g in conductance.items() if g == 0 and values[name] != 0)
    return StencilCircuit(graph, tuple(shape), sources, probes, probe_map, readout,
                          voltage_scale_v, taps, pruned)


def _tap_rows(values, conductance, shape):
    """Return the built taps of each output pixel, keyed by ``(row, column)``."""
    rows = {(r, c): [_Tap(net, name, values[name], conductance[name])
                     for net, name in _neighbourhood(r, c, shape) if conductance[name] > 0]
            for r, c in itertools.product(range(shape[0]), range(shape[1]))}
    if not any(rows.values()):
        raise SpecError("resistance_range_ohm", "every tap of the stencil is left open "
                        "because its resistor exceeds the catalogue; raise the range's "
                        "high end or lower feedback_ohm")
    return rows


def _add_sources(graph, counter, rows, shape, voltage_scale_v):
    """Add the bias source and each pixel's source, for the nets some tap reads."""
    used = {tap.net for pixel_taps in rows.values() for tap in pixel_taps}
    if BIAS_NET in used:
        _add_component(graph, counter, "vsource", BIAS_NET, GROUND, voltage_scale_v,
                       "bias_row")
    sources = {}
    for k, (r, c) in enumerate(itertools.product(range(shape[0]), range(shape[1]))):
        net = f"x_{r}_{c}"
        if net in used:
            sources[k] = counter.next("v")
            graph.add_edge(net, GROUND, key=sources[k], kind="vsource", value=0.0, pos=net,
                           neg=GROUND, term="input", designator=sources[k])
    return sources


def _neighbourhood(r, c, shape):
    """Yield ``(net, parameter name)`` of the in-image neighbours of ``(r, c)`` and the bias."""
    for a, b in itertools.product(range(3), repeat=2):
        row, column = r + a - 1, c + b - 1
        if 0 <= row < shape[0] and 0 <= column < shape[1]:
            yield f"x_{row}_{column}", f"weight[{a},{b}]"
    yield BIAS_NET, "bias"


def _add_column(graph, counter, taps_in, prefix, readout, taps):
    """Add one single-column tile whose rows are ``taps_in``; return its readout.

    The new tap resistors are recorded in ``taps``. A row without a parameter name is
    the coupling from the plus column's amplifier (``tia``).
    """
    before = set(graph.edges(keys=True))
    conductance = np.array([[tap.siemens] for tap in taps_in])
    circuit = add_crossbar_tile(graph, counter, conductance, [tap.net for tap in taps_in],
                                prefix=prefix, readout=readout)
    for edge in set(graph.edges(keys=True)) - before:
        data = graph.edges[edge]
        if data["term"] != "crossbar_device":
            continue
        tap = taps_in[data["row"]]
        if tap.name is None:
            data["term"] = "tia_coupling"
        else:
            taps[edge[2]] = (tap.name, tap.weight)
    return circuit


def _add_ideal_pixel(graph, counter, pixel_taps, prefix, readout, taps):
    """Add an ammeter-read column for each sign that has taps; return ``(probe, sign)``."""
    probes = []
    for suffix, sign in (("p", 1.0), ("n", -1.0)):
        signed = [tap for tap in pixel_taps if tap.weight * sign > 0]
        if signed:
            circuit = _add_column(graph, counter, signed, prefix + suffix, readout, taps)
            probes.append((circuit.ammeters[0], sign))
    return probes


def _add_tia_pixel(graph, counter, pixel_taps, prefix, readout, taps):
    """Add the plus column's amplifier (if any tap is positive), then the output amplifier."""
    plus = [tap for tap in pixel_taps if tap.weight > 0]
    minus = [tap for tap in pixel_taps if tap.weight < 0]
    if plus:
        first = _add_column(graph, counter, plus, f"{prefix}p", readout, taps)
        minus.append(_Tap(first.outputs[0], None, None, 1.0 / readout.feedback_ohm))
    second = _add_column(graph, counter, minus, f"{prefix}n", readout, taps)
    return [(second.outputs[0], 1.0)]


def with_provenance(circuit: StencilCircuit, initial: dict[str, float],
                    epoch: int) -> nx.MultiGraph:
    """Return the circuit's graph with each tap's training provenance recorded.

    ``initial`` maps each parameter name to its value before training. A tap's initial
    resistance is ``R_f / |initial|`` when the initial value has the tap's sign, and
    infinite (no part) otherwise, because the untrained stencil then has no resistor in
    that column.
    """
    graph = circuit.graph.copy()
    trained, by_parameter = {}, {}
    for u, v, key in graph.edges(keys=True):
        if key not in circuit.taps:
            continue
        name, value = circuit.taps[key]
        trained[key] = graph.edges[u, v, key]["value"]
        start = initial[name]
        same_side = start * value > 0
        graph.edges[u, v, key]["value"] = (circuit.readout.feedback_ohm / abs(start)
                                           if same_side else math.inf)
        by_parameter.setdefault(name, []).append(key)
    for name, keys in by_parameter.items():
        graph = write_back(graph, {key: trained[key] for key in keys}, f"stencil.{name}",
                           epoch)
    return graph
