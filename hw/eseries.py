"""IEC 60063 preferred-number series (E6 to E192) and rounding to them.

All component values are in SI units (ohm, farad, henry). A series is stored
as its mantissas in one decade, [1.0, 10), and a series value is
``mantissa * 10**k`` for an integer ``k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "E6",
    "E12",
    "E24",
    "E48",
    "E96",
    "E192",
    "SERIES",
    "ESeries",
    "get_series",
    "quantize",
    "is_series_value",
]

# E6, E12 and E24 have two significant digits. Eight E24 values (2.7, 3.0, 3.3,
# 3.6, 3.9, 4.3, 4.7 and 8.2) differ from round(10**(i/24), 1), so these tables
# are written out, not computed.
E6: tuple[float, ...] = (1.0, 1.5, 2.2, 3.3, 4.7, 6.8)

E12: tuple[float, ...] = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)

E24: tuple[float, ...] = (
    1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0,
    3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1,
)  # fmt: skip

# E48, E96 and E192 have three significant digits and equal
# round(10**(i/N), 2), except E192 index 185, which is 9.20 instead of 9.19.
E48: tuple[float, ...] = (
    1.00, 1.05, 1.10, 1.15, 1.21, 1.27, 1.33, 1.40, 1.47, 1.54, 1.62, 1.69,
    1.78, 1.87, 1.96, 2.05, 2.15, 2.26, 2.37, 2.49, 2.61, 2.74, 2.87, 3.01,
    3.16, 3.32, 3.48, 3.65, 3.83, 4.02, 4.22, 4.42, 4.64, 4.87, 5.11, 5.36,
    5.62, 5.90, 6.19, 6.49, 6.81, 7.15, 7.50, 7.87, 8.25, 8.66, 9.09, 9.53,
)  # fmt: skip

E96: tuple[float, ...] = (
    1.00, 1.02, 1.05, 1.07, 1.10, 1.13, 1.15, 1.18, 1.21, 1.24, 1.27, 1.30,
    1.33, 1.37, 1.40, 1.43, 1.47, 1.50, 1.54, 1.58, 1.62, 1.65, 1.69, 1.74,
    1.78, 1.82, 1.87, 1.91, 1.96, 2.00, 2.05, 2.10, 2.15, 2.21, 2.26, 2.32,
    2.37, 2.43, 2.49, 2.55, 2.61, 2.67, 2.74, 2.80, 2.87, 2.94, 3.01, 3.09,
    3.16, 3.24, 3.32, 3.40, 3.48, 3.57, 3.65, 3.74, 3.83, 3.92, 4.02, 4.12,
    4.22, 4.32, 4.42, 4.53, 4.64, 4.75, 4.87, 4.99, 5.11, 5.23, 5.36, 5.49,
    5.62, 5.76, 5.90, 6.04, 6.19, 6.34, 6.49, 6.65, 6.81, 6.98, 7.15, 7.32,
    7.50, 7.68, 7.87, 8.06, 8.25, 8.45, 8.66, 8.87, 9.09, 9.31, 9.53, 9.76,
)  # fmt: skip

E192: tuple[float, ...] = (
    1.00, 1.01, 1.02, 1.04, 1.05, 1.06, 1.07, 1.09, 1.10, 1.11, 1.13, 1.14,
    1.15, 1.17, 1.18, 1.20, 1.21, 1.23, 1.24, 1.26, 1.27, 1.29, 1.30, 1.32,
    1.33, 1.35, 1.37, 1.38, 1.40, 1.42, 1.43, 1.45, 1.47, 1.49, 1.50, 1.52,
    1.54, 1.56, 1.58, 1.60, 1.62, 1.64, 1.65, 1.67, 1.69, 1.72, 1.74, 1.76,
    1.78, 1.80, 1.82, 1.84, 1.87, 1.89, 1.91, 1.93, 1.96, 1.98, 2.00, 2.03,
    2.05, 2.08, 2.10, 2.13, 2.15, 2.18, 2.21, 2.23, 2.26, 2.29, 2.32, 2.34,
    2.37, 2.40, 2.43, 2.46, 2.49, 2.52, 2.55, 2.58, 2.61, 2.64, 2.67, 2.71,
    2.74, 2.77, 2.80, 2.84, 2.87, 2.91, 2.94, 2.98, 3.01, 3.05, 3.09, 3.12,
    3.16, 3.20, 3.24, 3.28, 3.32, 3.36, 3.40, 3.44, 3.48, 3.52, 3.57, 3.61,
    3.65, 3.70, 3.74, 3.79, 3.83, 3.88, 3.92, 3.97, 4.02, 4.07, 4.12, 4.17,
    4.22, 4.27, 4.32, 4.37, 4.42, 4.48, 4.53, 4.59, 4.64, 4.70, 4.75, 4.81,
    4.87, 4.93, 4.99, 5.05, 5.11, 5.17, 5.23, 5.30, 5.36, 5.42, 5.49, 5.56,
    5.62, 5.69, 5.76, 5.83, 5.90, 5.97, 6.04, 6.12, 6.19, 6.26, 6.34, 6.42,
    6.49, 6.57, 6.65, 6.73, 6.81, 6.90, 6.98, 7.06, 7.15, 7.23, 7.32, 7.41,
    7.50, 7.59, 7.68, 7.77, 7.87, 7.96, 8.06, 8.16, 8.25, 8.35, 8.45, 8.56,
    8.66, 8.76, 8.87, 8.98, 9.09, 9.20, 9.31, 9.42, 9.53, 9.65, 9.76, 9.88,
)  # fmt: skip

# Relative slack on the catalogue range bounds, so that a bound or value that
# differs from a series value only by floating-point round-off still matches.
_RANGE_REL_TOL = 1e-9


@dataclass(frozen=True)
class ESeries:
    """Preferred-number series with its component tolerance.

    Attributes:
        name: Series name, for example ``"E24"``.
        mantissas: Sorted series values in one decade, each in [1.0, 10).
        tolerance: Component tolerance as a fraction, for example 0.05 for 5 %.
    """

    name: str
    mantissas: tuple[float, ...]
    tolerance: float

    def __post_init__(self) -> None:
        if not self.mantissas:
            raise ValueError(f"series {self.name!r} has no mantissas")
        if any(not 1.0 <= m < 10.0 for m in self.mantissas):
            raise ValueError(
                f"series {self.name!r} has a mantissa outside [1.0, 10): "
                f"{self.mantissas}"
            )
        if list(self.mantissas) != sorted(set(self.mantissas)):
            raise ValueError(
                f"series {self.name!r} mantissas must be strictly increasing: "
                f"{self.mantissas}"
            )
        if not 0.0 < self.tolerance < 1.0:
            raise ValueError(
                f"series {self.name!r} tolerance {self.tolerance} must be a "
                "fraction in (0, 1)"
            )

    def values_between(self, low: float, high: float) -> np.ndarray:
        """Return all series values in [low, high], sorted ascending.

        Each value is the float nearest to the decimal ``mantissa * 10**k``,
        so that 4.7 in decade 3 is exactly 4700.0. Bounds match a series value
        that differs from them by round-off of up to a relative 1e-9.

        Args:
            low: Lower bound in SI units, finite and > 0.
            high: Upper bound in SI units, finite and >= ``low``.

        Returns:
            1-D float array, empty when no series value lies in the range.

        Raises:
            ValueError: If a bound is not finite, not positive, or ``low`` is
                greater than ``high``.
        """
        _check_range(low, high)
        first_decade = math.floor(math.log10(low)) - 1
        last_decade = math.floor(math.log10(high)) + 1
        candidates = [
            _series_value(mantissa, exponent)
            for exponent in range(first_decade, last_decade + 1)
            for mantissa in self.mantissas
        ]
        low_bound = low * (1.0 - _RANGE_REL_TOL)
        high_bound = high * (1.0 + _RANGE_REL_TOL)
        selected = [v for v in candidates if low_bound <= v <= high_bound]
        return np.array(sorted(selected), dtype=float)


def _series_value(mantissa: float, exponent: int) -> float:
    # Parsing the decimal text gives the correctly rounded float, which
    # mantissa * 10.0**exponent does not always do (4.7 * 10.0**-9 is
    # 4.700000000000001e-09). The clean value is what goes into a netlist.
    return float(f"{mantissa!r}e{exponent}")


def _check_range(low: float, high: float) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            f"invalid catalogue range [{low}, {high}]: both bounds must be finite"
        )
    if low <= 0.0:
        raise ValueError(
            f"invalid catalogue range [{low}, {high}]: the lower bound must be > 0"
        )
    if low > high:
        raise ValueError(
            f"invalid catalogue range [{low}, {high}]: the lower bound is "
            "greater than the upper bound"
        )


SERIES: Mapping[str, ESeries] = MappingProxyType(
    {
        "E6": ESeries("E6", E6, 0.20),
        "E12": ESeries("E12", E12, 0.10),
        "E24": ESeries("E24", E24, 0.05),
        "E48": ESeries("E48", E48, 0.02),
        "E96": ESeries("E96", E96, 0.01),
        "E192": ESeries("E192", E192, 0.005),
    }
)


def get_series(name: str) -> ESeries:
    """Look up a series by name, ignoring case and surrounding whitespace.

    Args:
        name: One of ``"E6"``, ``"E12"``, ``"E24"``, ``"E48"``, ``"E96"``,
            ``"E192"`` in any case.

    Returns:
        The matching series.

    Raises:
        ValueError: If the name is unknown. The message lists the valid names.
    """
    key = name.strip().upper()
    try:
        return SERIES[key]
    except KeyError:
        valid = ", ".join(SERIES)
        raise ValueError(
            f"unknown E-series {name!r}. Valid names are {valid}."
        ) from None


def _resolve_series(series: ESeries | str) -> ESeries:
    if isinstance(series, ESeries):
        return series
    return get_series(series)


def quantize(
    values: ArrayLike,
    series: ESeries | str,
    low: float,
    high: float,
) -> np.ndarray:
    """Round component values to the nearest series value in log space.

    The nearest value minimises ``|log(v) - log(candidate)|`` over the series
    values inside the catalogue range [low, high]. The log error is therefore
    at most half the step between the two series values around ``v``, unless
    ``v`` lies between a range bound and the outermost series value inside it.
    An exact tie in log space goes to the lower candidate. Values outside the
    range raise instead of being clipped, because a clipped part would
    silently change the circuit's time constants.

    Args:
        values: Component values in SI units (ohm, farad, henry), any shape.
        series: An ``ESeries`` or a series name accepted by ``get_series``.
        low: Smallest catalogue value in SI units, > 0.
        high: Largest catalogue value in SI units, >= ``low``.

    Returns:
        Float array of the same shape as ``values`` holding series values.

    Raises:
        ValueError: If a value is not finite or not positive, if a value lies
            outside [low, high] (beyond a relative 1e-9 round-off slack), if
            the range is invalid or contains no series value, or if the
            series name is unknown. The message names the first offending
            value in C order.
    """
    e_series = _resolve_series(series)
    array = np.asarray(values, dtype=float)
    candidates = e_series.values_between(low, high)
    if candidates.size == 0:
        raise ValueError(
            f"no {e_series.name} value lies in the catalogue range "
            f"[{low:.6g}, {high:.6g}]. Widen the range."
        )

    flat = array.ravel()
    _check_values_positive(flat, array.shape)
    _check_values_in_range(flat, array.shape, low, high)

    if candidates.size == 1:
        return np.full(array.shape, candidates[0])

    log_candidates = np.log(candidates)
    log_values = np.log(flat)
    # Index of the first candidate >= the value, clamped so that both
    # neighbours exist. A value below the smallest or above the largest
    # candidate then picks that outermost candidate.
    upper = np.searchsorted(log_candidates, log_values, side="left")
    upper = np.clip(upper, 1, candidates.size - 1)
    lower = upper - 1
    distance_up = np.abs(log_candidates[upper] - log_values)
    distance_down = np.abs(log_values - log_candidates[lower])
    chosen = np.where(distance_up < distance_down, upper, lower)
    return candidates[chosen].reshape(array.shape)


def _check_values_positive(flat: np.ndarray, shape: tuple[int, ...]) -> None:
    bad = ~(np.isfinite(flat) & (flat > 0.0))
    if np.any(bad):
        position = int(np.argmax(bad))
        raise ValueError(
            f"component value {flat[position]!r} at index "
            f"{_format_index(position, shape)} is not a finite positive number. "
            "Component values must be > 0 in SI units."
        )


def _check_values_in_range(
    flat: np.ndarray, shape: tuple[int, ...], low: float, high: float
) -> None:
    low_bound = low * (1.0 - _RANGE_REL_TOL)
    high_bound = high * (1.0 + _RANGE_REL_TOL)
    outside = (flat < low_bound) | (flat > high_bound)
    if np.any(outside):
        position = int(np.argmax(outside))
        raise ValueError(
            f"component value {flat[position]:.6g} at index "
            f"{_format_index(position, shape)} is outside the catalogue range "
            f"[{low:.6g}, {high:.6g}]. Widen the range or change the "
            "time/voltage scaling so that every value fits."
        )


def _format_index(position: int, shape: tuple[int, ...]) -> str:
    if len(shape) == 0:
        return "()"
    return str(tuple(int(i) for i in np.unravel_index(position, shape)))


def is_series_value(
    value: float, series: ESeries | str, rel_tol: float = 1e-9
) -> bool:
    """Check whether a value equals ``mantissa * 10**k`` for some series mantissa.

    Args:
        value: Component value in SI units.
        series: An ``ESeries`` or a series name accepted by ``get_series``.
        rel_tol: Relative tolerance of the comparison.

    Returns:
        True if the value matches a series value within ``rel_tol``. False
        for non-finite or non-positive values.

    Raises:
        ValueError: If the series name is unknown.
    """
    e_series = _resolve_series(series)
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        return False
    decade = math.floor(math.log10(value))
    # Neighbouring decades cover values such as 9.9999999999e2, which round-off
    # puts in decade 2 although they match 1.0 in decade 3.
    for exponent in (decade - 1, decade, decade + 1):
        for mantissa in e_series.mantissas:
            candidate = _series_value(mantissa, exponent)
            if math.isclose(value, candidate, rel_tol=rel_tol, abs_tol=0.0):
                return True
    return False
