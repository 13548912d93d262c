"""A lumped column sense resistance between each crossbar column and its readout.

An ideal readout keeps every column at 0 V. A real one does not quite: the column's
current flows through a sense resistance ``R`` (a sense resistor, the readout's
input resistance, the wiring and selector switches, lumped into one resistor) before
it reaches virtual ground. Column ``j`` of a tile then sits at ``R I_j``, and with
row voltages ``V_i`` and device conductances ``G_ij``

    I_j = sum_i G_ij V_i / (1 + R S_j),        S_j = sum_i G_ij,

so every column is compressed by its own total conductance. A differential pair's
two columns carry different totals, so the weights they realize are distorted, not
only scaled.
"""

from __future__ import annotations

import dataclasses
import re

from npdehw.hw.crossbar_network import CrossbarNetwork
from npdehw.hw.graph import GROUND, _add_component, _Designators

__all__ = ["with_sense_resistance"]


def with_sense_resistance(network: CrossbarNetwork, sense_ohm: float) -> CrossbarNetwork:
    """Return a copy of ``network`` with ``sense_ohm`` between every column and its readout.

    The resistor goes between the column's end net and the readout: the zero-volt
    ammeter of an ``ideal`` readout, or the inverting input of a ``tia`` readout.
    The copy is for ngspice only: its layers still list the graph edges of
    ``network``, so ``npdehw.sim.crossbar_run.run_crossbar_twin`` must run on the
    original network, which has no sense resistance.
    """
    if not sense_ohm > 0:
        raise ValueError(f"sense resistance must be positive, got {sense_ohm!r} ohms")
    graph = network.graph.copy()
    counter = _resistor_counter(graph)
    column_ends = {key: (v if u == GROUND else u) for u, v, key, term
                   in graph.edges(keys=True, data="term") if term == "column_readout"}
    for layer in network.layers:
        for _, circuit, _, _ in layer.tiles:
            if network.readout.kind == "ideal":
                for designator in circuit.ammeters:
                    _move_ammeter(graph, counter, column_ends[designator], designator,
                                  sense_ohm)
            else:
                for output in circuit.outputs:
                    _move_tia_input(graph, counter, output, sense_ohm)
    return dataclasses.replace(network, graph=graph)


def _resistor_counter(graph) -> _Designators:
    counter = _Designators()
    numbers = [int(match.group(1)) for _, _, key in graph.edges(keys=True)
               if (match := re.fullmatch(r"r(\d+)", key))]
    counter._counts["r"] = max(numbers, default=0)
    return counter


def _move_ammeter(graph, counter, end, designator, sense_ohm):
    data = graph.edges[end, GROUND, designator]
    sense = f"{end}_sense"
    graph.remove_edge(end, GROUND, key=designator)
    graph.add_edge(sense, GROUND, key=designator, **{**data, "pos": sense})
    _add_component(graph, counter, "resistor", end, sense, sense_ohm, "sense_resistance")


def _move_tia_input(graph, counter, output, sense_ohm):
    feedback = [(key, data) for _, _, key, data in graph.edges(output, keys=True, data=True)
                if data["term"] == "tia_feedback"]
    amplifier = [(key, data) for _, _, key, data in graph.edges(output, keys=True, data=True)
                 if data["term"] == "tia_opamp"]
    (feedback_key, feedback_data), (amplifier_key, _) = feedback[0], amplifier[0]
    end = feedback_data["neg"]
    sense = f"{end}_sense"
    graph.remove_edge(output, end, key=feedback_key)
    graph.add_edge(output, sense, key=feedback_key, **{**feedback_data, "neg": sense})
    graph.edges[output, GROUND, amplifier_key]["ctrl_neg"] = sense
    _add_component(graph, counter, "resistor", end, sense, sense_ohm, "sense_resistance")

