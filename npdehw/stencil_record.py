"""The results record of a stencil run: scores, acceptance, agreement, parts, training.

Scores are mean squared errors to the target over all pixels of the held-out images,
in pixel units squared (pixels in [0, 1]). The float stencil, the baseline and the
twins are scored on the same images that ngspice runs (``scores``) and, apart from
ngspice, on the whole held-out split (``scores_all_held_out``).
"""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np

from npdehw.export import versions, rounding_summary
from npdehw.hw.stencil_rounding import realized_stencil
from npdehw.models.stencil_images import baseline_output
from npdehw.models.stencil_training import apply_stencil, mean_squared_error

__all__ = ["ACCEPTANCE", "BASELINES", "stencil_record"]

ACCEPTANCE = 0.02
BASELINES = {"denoise": "noisy input", "edges": "Laplacian stencil on the noisy input"}
_COMPARED = ("twin_ideal", "twin_rounded", "spice_ideal", "spice_rounded", "baseline")


def stencil_record(design, data, trained, feedback_ohm, candidates, circuits, twin,
                   spice) -> dict:
    """Return the JSON-ready record of a stencil run.

    ``twin`` and ``spice`` map ``ideal`` and ``rounded`` to ``(outputs, seconds)``; the
    ngspice outputs cover the first held-out images, the twin's all of them.
    """
    test = data.test
    count = len(spice["ideal"][0])
    outputs = {"baseline": baseline_output(design.task, test.inputs),
               "float": trained.apply(test.inputs),
               "twin_ideal": twin["ideal"][0], "twin_rounded": twin["rounded"][0]}
    scores = {"images": count}
    scores.update({key: mean_squared_error(value[:count], test.targets[:count])
                   for key, value in outputs.items()})
    scores.update({f"spice_{key}": mean_squared_error(value[0], test.targets[:count])
                   for key, value in spice.items()})
    all_held_out = {"images": len(test)}
    all_held_out.update({key: mean_squared_error(value, test.targets)
                         for key, value in outputs.items()})
    relative = {key: _relative(scores[key], scores["float"]) for key in _COMPARED}
    realized = realized_stencil(trained.weight, trained.bias, feedback_ohm,
                                design.resistor_series, design.resistance_range_ohm,
                                feedback_is_part=design.readout == "tia")
    return {
        "design": _design_record(design),
        "versions": versions(),
        "split": {"train": len(data.train), "validation": len(data.validation),
                  "held_out": len(test), "spice_images": count},
        "baseline": BASELINES[design.task],
        "scores": scores,
        "scores_all_held_out": all_held_out,
        "relative_to_float": relative,
        "acceptance": _acceptance(scores, relative),
        "agreement": _agreement(outputs, spice, count, test.inputs[:count], realized),
        "stencil": _stencil(trained, realized, feedback_ohm, candidates, circuits),
        "training": {"spec": dataclasses.asdict(design.training),
                     "history": trained.history.as_dict()},
        "rounding": rounding_summary(types.SimpleNamespace(
            rounded_graph=circuits["rounded"].graph)),
        "spice_seconds": {key: value[1] for key, value in spice.items()},
        "twin_seconds": {key: value[1] for key, value in twin.items()},
    }


def _relative(value: float, reference: float) -> float:
    if reference > 0:
        return value / reference - 1.0
    return 0.0 if value == 0 else math.inf


def _acceptance(scores: dict, relative: dict) -> dict:
    within = abs(relative["spice_rounded"]) <= ACCEPTANCE
    learned = scores["float"] < scores["baseline"]
    return {"limit": ACCEPTANCE, "rounded_spice_vs_float": relative["spice_rounded"],
            "rounded_within_limit": within, "float_beats_baseline": learned,
            "passed": within and learned}


def _agreement(outputs, spice, count, inputs, realized) -> dict:
    """Return the largest absolute output differences, in pixel units."""
    def largest(a, b):
        return float(np.max(np.abs(a - b)))

    return {"spice_ideal_vs_float": largest(spice["ideal"][0], outputs["float"][:count]),
            "spice_ideal_vs_twin_ideal": largest(spice["ideal"][0],
                                                 outputs["twin_ideal"][:count]),
            "spice_rounded_vs_twin_rounded": largest(spice["rounded"][0],
                                                     outputs["twin_rounded"][:count]),
            "spice_rounded_vs_realized_stencil": largest(spice["rounded"][0],
                                                         apply_stencil(inputs, *realized))}


def _stencil(trained, realized, feedback_ohm, candidates, circuits) -> dict:
    ideal = circuits["ideal"]
    return {"weight": trained.weight.tolist(), "bias": trained.bias,
            "realized_weight": realized[0].tolist(), "realized_bias": realized[1],
            "pruned": list(ideal.pruned), "feedback_ohm": feedback_ohm,
            "feedback_candidates": candidates, "tap_resistors": len(ideal.taps),
            "opamps": sum(1 for _, _, kind in ideal.graph.edges(data="kind")
                          if kind == "vcvs")}


def _design_record(design) -> dict:
    record = dataclasses.asdict(design)
    record["source"] = str(design.source)
    record["resistance_range_ohm"] = list(design.resistance_range_ohm)
    return record
