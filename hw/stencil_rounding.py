"""The stencil that E-series resistors realise, and the feedback resistor that suits them.

A tap of weight ``w`` is a resistor ``R = R_f / |w|`` (``npdehw.hw.stencil_circuit``).
Rounding ``R`` to a series value gives the realised weight ``sign(w) R_f' / R'``, where
``R'`` is the rounded tap and ``R_f'`` the rounded feedback resistor (``tia`` readout)
or ``R_f`` itself (``ideal`` readout, where ``R_f`` is only a scale). Which taps round
up and which down depends on ``R_f``, so ``choose_feedback`` tries each series value of
one decade as ``R_f`` and keeps the one whose realised stencil scores best.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from npdehw.hw.eseries import get_series, quantize
from npdehw.hw.stencil_circuit import tap_conductance

__all__ = ["choose_feedback", "feedback_candidates", "realized_stencil"]


def realized_stencil(weight: np.ndarray, bias: float, feedback_ohm: float, series: str,
                     resistance_range_ohm: tuple[float, float], *,
                     feedback_is_part: bool = True) -> tuple[np.ndarray, float]:
    """Return the ``(weight, bias)`` that the rounded resistors realise.

    Taps left open because their resistor exceeds the range become 0, as in the circuit.
    """
    low, high = resistance_range_ohm
    gain = float(quantize(feedback_ohm, series, low, high)) if feedback_is_part \
        else feedback_ohm
    values = np.append(np.asarray(weight, dtype=float).ravel(), bias)
    realized = np.zeros_like(values)
    for k, value in enumerate(values):
        conductance = tap_conductance(value, feedback_ohm, resistance_range_ohm)
        if conductance > 0:
            resistor = float(quantize(1.0 / conductance, series, low, high))
            realized[k] = np.sign(value) * gain / resistor
    return realized[:9].reshape(3, 3), float(realized[9])


def feedback_candidates(feedback_ohm: float, series: str,
                        resistance_range_ohm: tuple[float, float]) -> list[float]:
    """Return the series values from ``feedback_ohm`` up to, not including, ten times it.

    Values outside the catalogue range are left out; an empty list means none fits.
    """
    low, high = resistance_range_ohm
    top = 10.0 * feedback_ohm * (1 - 1e-9)
    values = get_series(series).values_between(feedback_ohm, 10.0 * feedback_ohm)
    return [float(v) for v in values if v < top and low <= v <= high]


def choose_feedback(weight: np.ndarray, bias: float, candidates: list[float], series: str,
                    resistance_range_ohm: tuple[float, float],
                    score: Callable[[np.ndarray, float], float], *,
                    feedback_is_part: bool = True) -> tuple[float, list[dict]]:
    """Return the candidate ``R_f`` whose realised stencil has the lowest ``score``.

    Args:
        candidates: feedback resistances in ohms to try.
        score: ``score(weight, bias)`` of a realised stencil, lower is better (for
            example the validation mean squared error).

    Returns:
        The chosen resistance in ohms, and one ``{"feedback_ohm", "score"}`` row per
        candidate.
    """
    rows = []
    for candidate in candidates:
        realized = realized_stencil(weight, bias, candidate, series, resistance_range_ohm,
                                    feedback_is_part=feedback_is_part)
        rows.append({"feedback_ohm": candidate, "score": float(score(*realized))})
    best = min(rows, key=lambda row: row["score"])
    return best["feedback_ohm"], rows
