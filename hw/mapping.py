"""Scaling of model quantities into circuit quantities.

A model time ``t`` becomes circuit time ``time_scale_s * t`` and a model value
``u`` becomes a node voltage ``voltage_scale_v * u``. With the nominal capacitance
``C`` on every node, Kirchhoff's current law reproduces the semi-discrete NPDE when
``G = C * rate / time_scale_s`` for every linear rate (``D / h^2`` between
neighbours, ``gamma`` to ground) and a source ``s`` becomes the current
``C * voltage_scale_v * s / time_scale_s``.
"""

from __future__ import annotations

import dataclasses
import math

from npdehw.errors import SpecError

__all__ = ["CircuitMapping"]

SERIES_NAMES = ("E6", "E12", "E24", "E48", "E96", "E192")
TANH_CELLS = ("behavioural", "bjt")


@dataclasses.dataclass(frozen=True, kw_only=True)
class CircuitMapping:
    """Scales, nominal capacitance and the component catalogue, all in SI units.

    Attributes:
        time_scale_s: circuit seconds per model time unit.
        voltage_scale_v: volts per model unit of the field.
        capacitance_f: nominal node capacitance in farads.
        resistor_series: IEC 60063 series the resistors are rounded to.
        capacitor_series: IEC 60063 series the capacitors are rounded to.
        resistance_range_ohm: smallest and largest resistance the catalogue sells.
        capacitance_range_f: smallest and largest capacitance the catalogue sells.
        tanh_cell: realization of a non-local tanh activation in ngspice, either
            ``behavioural`` (a B source) or ``bjt`` (a bipolar differential pair,
            ``npdehw.hw.cells``). The twin always uses the ideal tanh.
    """

    time_scale_s: float
    voltage_scale_v: float = 1.0
    capacitance_f: float = 1e-9
    resistor_series: str = "E96"
    capacitor_series: str = "E12"
    resistance_range_ohm: tuple[float, float] = (1.0, 10e6)
    capacitance_range_f: tuple[float, float] = (1e-12, 1e-3)
    tanh_cell: str = "behavioural"

    def __post_init__(self):
        for key in ("time_scale_s", "voltage_scale_v", "capacitance_f"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise SpecError(key, f"must be positive and finite, got {value!r}")
        for key in ("resistor_series", "capacitor_series"):
            if getattr(self, key).upper() not in SERIES_NAMES:
                raise SpecError(key, f"unknown series {getattr(self, key)!r}; use one of {SERIES_NAMES}")
        if self.tanh_cell not in TANH_CELLS:
            raise SpecError("tanh_cell", f"unknown cell {self.tanh_cell!r}; use one of "
                            f"{TANH_CELLS}")
        for key in ("resistance_range_ohm", "capacitance_range_f"):
            low, high = getattr(self, key)
            if not (0 < low < high and math.isfinite(high)):
                raise SpecError(key, f"needs 0 < low < high, got [{low!r}, {high!r}]")

    def conductance(self, rate: float) -> float:
        """Return the conductance in siemens that realizes a linear rate (1 / model time)."""
        return self.capacitance_f * rate / self.time_scale_s

    def source_current(self, source_rate: float) -> float:
        """Return the current in amperes that realizes a source (model units per model time)."""
        return self.capacitance_f * self.voltage_scale_v * source_rate / self.time_scale_s

    def to_volts(self, value: float) -> float:
        return self.voltage_scale_v * value

    def to_seconds(self, model_time: float) -> float:
        return self.time_scale_s * model_time
