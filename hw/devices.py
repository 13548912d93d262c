"""Memristor device model: conductance range, programmable levels and nonidealities.

Conductances are in siemens. A device is programmed to one of ``levels`` conductances
between ``g_min_s`` and ``g_max_s`` (both included), spaced linearly or
logarithmically. Programming noise and stuck-at faults perturb the programmed value.
Read noise is stored here for the torch twin, which applies it per read, and the SPICE
netlist ignores it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike

from npdehw.errors import SpecError

__all__ = [
    "LEVEL_SPACINGS",
    "DeviceSpec",
    "ProgrammedConductances",
    "perturb_conductances",
    "quantize_conductance",
]

LEVEL_SPACINGS = ("linear", "log")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    """Conductance range, level set and nonideality rates of one memristor type.

    The defaults describe a typical RRAM cell with 1 uS to 100 uS and 32 levels.

    Attributes:
        g_min_s: lowest programmable conductance in siemens, > 0.
        g_max_s: highest programmable conductance in siemens, > ``g_min_s``.
        levels: number of programmable conductances, an integer >= 2.
        level_spacing: ``"linear"`` (equal steps in conductance) or ``"log"``
            (equal ratios, so equal steps in log conductance).
        programming_noise: relative standard deviation of the programmed
            conductance, applied once per device when it is written.
        stuck_min_rate: fraction of devices stuck at ``g_min_s``, in [0, 1].
        stuck_max_rate: fraction of devices stuck at ``g_max_s``, in [0, 1].
        read_noise: relative standard deviation of each read. The torch twin
            applies it and the SPICE netlist does not.
    """

    g_min_s: float = 1e-6
    g_max_s: float = 1e-4
    levels: int = 32
    level_spacing: str = "linear"
    programming_noise: float = 0.0
    stuck_min_rate: float = 0.0
    stuck_max_rate: float = 0.0
    read_noise: float = 0.0

    def __post_init__(self):
        if not (_is_real(self.g_min_s) and math.isfinite(self.g_min_s)
                and self.g_min_s > 0):
            raise SpecError("g_min_s", f"must be a positive finite conductance in "
                            f"siemens, got {self.g_min_s!r}")
        if not (_is_real(self.g_max_s) and math.isfinite(self.g_max_s)
                and self.g_max_s > self.g_min_s):
            raise SpecError("g_max_s", f"must be finite and greater than g_min_s = "
                            f"{self.g_min_s!r}, got {self.g_max_s!r}")
        is_integer = isinstance(self.levels, (int, np.integer))
        if isinstance(self.levels, bool) or not is_integer:
            raise SpecError("levels", f"must be an integer >= 2, got {self.levels!r}")
        if self.levels < 2:
            raise SpecError("levels", f"must be at least 2 (g_min_s and g_max_s), "
                            f"got {self.levels!r}")
        if self.level_spacing not in LEVEL_SPACINGS:
            raise SpecError("level_spacing", f"unknown spacing {self.level_spacing!r}. "
                            f"Use one of {LEVEL_SPACINGS}.")
        for key in ("programming_noise", "read_noise"):
            value = getattr(self, key)
            if not (_is_real(value) and math.isfinite(value) and value >= 0):
                raise SpecError(key, f"must be a finite relative standard deviation "
                                f">= 0, got {value!r}")
        for key in ("stuck_min_rate", "stuck_max_rate"):
            value = getattr(self, key)
            if not (_is_real(value) and 0.0 <= value <= 1.0):
                raise SpecError(key, f"must be a fraction of devices in [0, 1], "
                                f"got {value!r}")
        total = self.stuck_min_rate + self.stuck_max_rate
        if total > 1.0:
            raise SpecError("stuck_max_rate", f"stuck_min_rate + stuck_max_rate is "
                            f"{total!r}, which is more than 1 (all devices). "
                            "Lower one of the rates.")

    def level_values(self) -> np.ndarray:
        """Return the ``levels`` programmable conductances in siemens, ascending.

        The first value is exactly ``g_min_s`` and the last exactly ``g_max_s``.
        """
        fraction = np.arange(self.levels) / (self.levels - 1)
        if self.level_spacing == "linear":
            values = self.g_min_s + fraction * (self.g_max_s - self.g_min_s)
        else:
            values = self.g_min_s * (self.g_max_s / self.g_min_s) ** fraction
        values[0] = self.g_min_s
        values[-1] = self.g_max_s
        return values


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool)


def quantize_conductance(
    conductances_s: ArrayLike, device: DeviceSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Round conductances to the nearest level of ``device``.

    The distance is measured in conductance for linear spacing and in log
    conductance for log spacing. An exact tie goes to the lower level. Values
    outside [g_min_s, g_max_s] round to the nearest end of the range.

    Args:
        conductances_s: conductances in siemens, any shape, finite, and > 0
            for log spacing.
        device: the device whose level set is used.

    Returns:
        ``(level_index, level_value_s)``, an int array of level indices (0 is
        ``g_min_s``) and the matching conductances, both of the input's shape.

    Raises:
        ValueError: If a conductance is not finite, or not positive with log
            spacing. The message names the first offending value.
    """
    values = np.asarray(conductances_s, dtype=float)
    flat = values.ravel()
    bad = ~np.isfinite(flat)
    if device.level_spacing == "log":
        bad |= ~(flat > 0)
    if np.any(bad):
        position = int(np.argmax(bad))
        index = tuple(int(i) for i in np.unravel_index(position, values.shape))
        needed = "finite positive" if device.level_spacing == "log" else "finite"
        raise ValueError(
            f"conductance {float(flat[position])!r} at index {index} cannot be "
            f"quantized: {device.level_spacing} levels need {needed} values in siemens"
        )

    levels = device.level_values()
    if device.level_spacing == "log":
        axis, points = np.log(levels), np.log(flat)
    else:
        axis, points = levels, flat
    # Index of the first level >= the value, clamped so both neighbours exist.
    upper = np.clip(np.searchsorted(axis, points, side="left"), 1, levels.size - 1)
    lower = upper - 1
    choose_upper = np.abs(axis[upper] - points) < np.abs(points - axis[lower])
    index = np.where(choose_upper, upper, lower).reshape(values.shape)
    return index, levels[index]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProgrammedConductances:
    """Conductances after programming with noise and stuck-at faults.

    Attributes:
        conductances_s: programmed conductances in siemens, the shape of the input.
        stuck_min: True where the device is stuck at ``g_min_s``.
        stuck_max: True where the device is stuck at ``g_max_s``. No device is in
            both masks.
        seed: the seed of the numpy generator that drew the perturbation.
    """

    conductances_s: np.ndarray
    stuck_min: np.ndarray
    stuck_max: np.ndarray
    seed: int

    @property
    def stuck(self) -> np.ndarray:
        """Mask of all stuck devices."""
        return self.stuck_min | self.stuck_max


def perturb_conductances(
    conductances_s: ArrayLike, device: DeviceSpec, seed: int
) -> ProgrammedConductances:
    """Apply programming noise and stuck-at faults to intended conductances.

    Each device gets ``G * (1 + programming_noise * z)`` with ``z`` standard
    normal, clipped to [g_min_s, g_max_s]. Each device is then independently
    stuck at ``g_min_s`` with probability ``stuck_min_rate`` or at ``g_max_s``
    with probability ``stuck_max_rate``. Both draws are made for every device
    whatever the rates, so the same seed gives the same noise pattern when only a
    rate changes.

    Args:
        conductances_s: intended conductances in siemens, any shape.
        device: noise level, fault rates and conductance range.
        seed: seed for ``numpy.random.default_rng``.

    Returns:
        The perturbed conductances and the masks of stuck devices.
    """
    intended = np.asarray(conductances_s, dtype=float)
    if not np.all(np.isfinite(intended)):
        raise ValueError("intended conductances contain a NaN or infinite "
                         "value. Pass finite conductances in siemens.")
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(intended.shape)
    uniform = rng.random(intended.shape)

    noisy = intended * (1.0 + device.programming_noise * normal)
    programmed = np.clip(noisy, device.g_min_s, device.g_max_s)
    stuck_min = uniform < device.stuck_min_rate
    stuck_max = ~stuck_min & (uniform < device.stuck_min_rate + device.stuck_max_rate)
    programmed[stuck_min] = device.g_min_s
    programmed[stuck_max] = device.g_max_s
    return ProgrammedConductances(conductances_s=programmed, stuck_min=stuck_min,
                                  stuck_max=stuck_max, seed=seed)
