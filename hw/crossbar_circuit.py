"""Crossbar arrays as circuit graphs: devices, wire segments and column readout.

A tile has ``n_rows`` input rows and ``n_cols`` columns; the device at row ``i`` and
column ``j`` is a resistor of conductance ``G[i, j]`` between the row wire and the
column wire. With a wire resistance ``r`` each wire is a chain of segments of ``r``
ohms: the row driver feeds cell ``(i, 0)`` through one segment and each next cell
through one more, and column ``j`` runs from row 0 down to its readout, one segment
per cell. Without wire resistance the rows are the driver nets themselves.

Readout holds each column at (virtual) ground:

- ``ideal``: a zero-volt source per column, whose branch current is the column
  current (flowing from the column into the source);
- ``tia``: a transimpedance amplifier per column, an op-amp macro model (a VCVS of
  open-loop gain ``A`` from the column node to its output) with a feedback
  resistor ``R_f`` from output to column, so ``V_out = -R_f I / (1 + (1 + R_f/R_s)/A)``
  where ``R_s`` is the column's source resistance.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np

from npdehw.hw.graph import GROUND, _add_component

__all__ = ["Readout", "TileCircuit", "add_crossbar_tile"]

READOUTS = ("ideal", "tia")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Readout:
    """Column readout.

    Attributes:
        kind: ``ideal`` or ``tia``.
        opamp_gain: open-loop gain of the op-amp macro model (``tia`` only).
        feedback_ohm: feedback resistor in ohms (``tia`` only).
    """

    kind: str = "ideal"
    opamp_gain: float = 1e5
    feedback_ohm: float = 1e4

    def __post_init__(self):
        if self.kind not in READOUTS:
            raise ValueError(f"unknown readout {self.kind!r}; use one of {READOUTS}")
        if not (self.opamp_gain > 0 and self.feedback_ohm > 0):
            raise ValueError(f"opamp_gain and feedback_ohm must be positive, got "
                             f"{self.opamp_gain!r} and {self.feedback_ohm!r}")


@dataclasses.dataclass(frozen=True)
class TileCircuit:
    """Readout points of a tile, one entry per column.

    Attributes:
        ammeters: designators of the zero-volt sources (``ideal`` readout), else empty.
        outputs: TIA output nets (``tia`` readout), else empty.
    """

    ammeters: list[str]
    outputs: list[str]


def add_crossbar_tile(graph: nx.MultiGraph, counter, conductance_s: np.ndarray,
                      row_nets: list[str], *, prefix: str, wire_ohm: float = 0.0,
                      readout: Readout = Readout()) -> TileCircuit:
    """Add one tile to ``graph`` and return where its column signals are read.

    ``conductance_s`` has shape ``(n_rows, n_cols)`` in siemens; ``row_nets`` are the
    nets that drive the rows (sources added elsewhere).
    """
    conductance_s = np.asarray(conductance_s, dtype=float)
    n_rows, n_cols = conductance_s.shape
    if len(row_nets) != n_rows:
        raise ValueError(f"{len(row_nets)} row nets for {n_rows} rows")
    if wire_ohm < 0:
        raise ValueError(f"wire resistance must be zero or positive, got {wire_ohm!r}")
    ends = [f"{prefix}_col{j}" for j in range(n_cols)]
    for i in range(n_rows):
        for j in range(n_cols):
            row_node, col_node = _cell_nodes(prefix, row_nets, ends, i, j, n_rows, wire_ohm)
            if conductance_s[i, j] > 0:
                _add_component(graph, counter, "resistor", row_node, col_node,
                               1 / conductance_s[i, j], "crossbar_device", row=i, column=j)
    if wire_ohm > 0:
        _add_wires(graph, counter, prefix, row_nets, ends, n_rows, n_cols, wire_ohm)
    return _add_readout(graph, counter, prefix, ends, readout)


def _cell_nodes(prefix, row_nets, ends, i, j, n_rows, wire_ohm):
    if wire_ohm == 0:
        return row_nets[i], ends[j]
    return f"{prefix}_r{i}_{j}", f"{prefix}_c{i}_{j}"


def _add_wires(graph, counter, prefix, row_nets, ends, n_rows, n_cols, wire_ohm):
    for i in range(n_rows):
        previous = row_nets[i]
        for j in range(n_cols):
            node = f"{prefix}_r{i}_{j}"
            _add_component(graph, counter, "resistor", previous, node, wire_ohm, "row_wire")
            previous = node
    for j in range(n_cols):
        for i in range(n_rows):
            below = f"{prefix}_c{i + 1}_{j}" if i + 1 < n_rows else ends[j]
            _add_component(graph, counter, "resistor", f"{prefix}_c{i}_{j}", below, wire_ohm,
                           "column_wire")


def _add_readout(graph, counter, prefix, ends, readout):
    ammeters, outputs = [], []
    for j, end in enumerate(ends):
        if readout.kind == "ideal":
            designator = counter.next("v")
            graph.add_edge(end, GROUND, key=designator, kind="vsource", value=0.0, pos=end,
                           neg=GROUND, term="column_readout", designator=designator)
            ammeters.append(designator)
            continue
        out = f"{prefix}_out{j}"
        _add_component(graph, counter, "vcvs", out, GROUND, readout.opamp_gain, "tia_opamp",
                       ctrl_pos=GROUND, ctrl_neg=end)
        _add_component(graph, counter, "resistor", out, end, readout.feedback_ohm,
                       "tia_feedback")
        outputs.append(out)
    return TileCircuit(ammeters, outputs)
