"""Component tolerances for Monte Carlo: each rounded part drawn around its marked value.

A part with tolerance ``t`` (a fraction, 0.01 for an E96 resistor) gets the value
``nominal * (1 + t * u)`` where ``u`` lies in [-1, 1]:

- ``normal``: ``u = z / 3`` with ``z`` standard normal, redrawn while ``|z| > 3``, so
  the deviation is normal with standard deviation ``t / 3``, truncated at the tolerance;
- ``uniform``: ``u`` uniform on [-1, 1].

Draws follow the order of the graph's edges, so one seed always gives the same value
to the same designator.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

__all__ = ["DISTRIBUTIONS", "part_tolerances", "perturb_parts", "unit_deviations"]

DISTRIBUTIONS = {
    "normal": "normal with standard deviation tolerance / 3, truncated at the tolerance "
              "(draws beyond 3 standard deviations are redrawn)",
    "uniform": "uniform between -tolerance and +tolerance",
}
"""Distribution name to the description that reports print."""
PERTURBED_KINDS = ("resistor", "capacitor")
_TRUNCATION_SIGMAS = 3.0


def unit_deviations(count: int, distribution: str, rng: np.random.Generator) -> np.ndarray:
    """Return ``count`` deviations in [-1, 1] drawn from ``distribution``."""
    if distribution == "uniform":
        return rng.uniform(-1.0, 1.0, count)
    if distribution != "normal":
        raise ValueError(f"unknown distribution {distribution!r}; use one of "
                         f"{list(DISTRIBUTIONS)}")
    z = rng.standard_normal(count)
    outside = np.abs(z) > _TRUNCATION_SIGMAS
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > _TRUNCATION_SIGMAS
    return z / _TRUNCATION_SIGMAS


def part_tolerances(graph: nx.MultiGraph,
                    overrides: dict[str, float]) -> list[tuple[dict, float]]:
    """Return ``(edge data, tolerance)`` for every part that carries a tolerance.

    ``overrides`` maps a kind (``resistor``, ``capacitor``) to a tolerance that replaces
    the series tolerance recorded by rounding. Parts without either stay fixed.
    """
    parts = []
    for _, _, data in graph.edges(data=True):
        if data["kind"] not in PERTURBED_KINDS:
            continue
        tolerance = overrides.get(data["kind"], data.get("tolerance"))
        if tolerance:
            parts.append((data, float(tolerance)))
    return parts


def perturb_parts(graph: nx.MultiGraph, rng: np.random.Generator, distribution: str,
                  overrides: dict[str, float] | None = None) -> nx.MultiGraph:
    """Return a copy of ``graph`` with each toleranced part's value drawn around its own."""
    perturbed = graph.copy()
    parts = part_tolerances(perturbed, overrides or {})
    deviations = unit_deviations(len(parts), distribution, rng)
    for (data, tolerance), deviation in zip(parts, deviations):
        data["value"] = data["value"] * (1.0 + tolerance * deviation)
    return perturbed
