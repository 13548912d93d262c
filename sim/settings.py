"""Simulation settings of a design: probes, output times, twin and ngspice options."""

from __future__ import annotations

import dataclasses
import math

from npdehw.errors import SpecError
from npdehw.models.integrators import METHODS

__all__ = ["Probe", "SimulationSettings", "SpiceOptions"]

SPICE_METHODS = ("trap", "gear")
MAX_OUTPUT_TIMES = 100_000
MAX_STEPS = 10_000_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class Probe:
    """A named grid node of one field whose waveform is reported on its own."""

    name: str
    index: tuple[int, ...]
    field: str = "u"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SpiceOptions:
    """ngspice transient options.

    Attributes:
        method: integration method, ``trap`` or ``gear``.
        reltol: relative tolerance.
        abstol_a: absolute current tolerance in amperes.
        vntol_v: absolute voltage tolerance in volts.
        max_step: largest internal step in model time units; None uses the twin's step.
    """

    method: str = "trap"
    reltol: float = 1e-6
    abstol_a: float = 1e-15
    vntol_v: float = 1e-9
    max_step: float | None = None

    def __post_init__(self):
        if self.method not in SPICE_METHODS:
            raise SpecError("method", f"unknown ngspice method {self.method!r}; use one of "
                            f"{SPICE_METHODS}")
        for key in ("reltol", "abstol_a", "vntol_v"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise SpecError(key, f"must be positive, got {value!r}")
        if self.reltol > 0.01:
            raise SpecError("reltol", f"{self.reltol!r} is too loose to verify anything; use "
                            "at most 0.01 (ngspice's default is 0.001)")
        if self.max_step is not None and not (math.isfinite(self.max_step) and self.max_step > 0):
            raise SpecError("max_step", f"must be positive, got {self.max_step!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SimulationSettings:
    """Settings that both simulators use for a design.

    Attributes:
        output_times: number of evenly spaced output times from 0 to the end time,
            both included.
        twin_steps: twin time steps over the whole run; a multiple of
            ``output_times - 1``.
        twin_method: ``trapezoidal``, ``crank_nicolson`` or ``backward_euler``.
        probes: nodes reported one by one.
        spice: ngspice options.
    """

    output_times: int = 21
    twin_steps: int = 2000
    twin_method: str = "trapezoidal"
    probes: tuple[Probe, ...] = ()
    spice: SpiceOptions = SpiceOptions()

    def __post_init__(self):
        if not 2 <= self.output_times <= MAX_OUTPUT_TIMES:
            raise SpecError("output_times", f"needs 2 to {MAX_OUTPUT_TIMES}, got "
                            f"{self.output_times}")
        if self.twin_steps > MAX_STEPS:
            raise SpecError("twin_steps", f"{self.twin_steps} steps is more than the "
                            f"{MAX_STEPS} a run supports; use fewer")
        if self.twin_steps < 1 or self.twin_steps % (self.output_times - 1):
            raise SpecError("twin_steps", f"must be a positive multiple of output_times - 1 = "
                            f"{self.output_times - 1}, got {self.twin_steps}")
        if self.twin_method not in METHODS:
            raise SpecError("twin_method", f"unknown method {self.twin_method!r}; use one of "
                            f"{sorted(METHODS)}")
        names = [p.name for p in self.probes]
        if len(set(names)) != len(names):
            raise SpecError("probes", f"probe names must be unique, got {names}")
