"""Transistor-level tanh cell: a bipolar differential pair with a tail current source.

Two NPN transistors with joined emitters share the tail current ``I_tail``. With
the differential base voltage ``V_in`` the exponential law of the base-emitter
junctions splits that current as

    I_c1 - I_c2 = alpha * I_tail * tanh(V_in / (2 V_T)),   V_T = k T / q,

where ``alpha = beta / (beta + 1)`` and ``beta`` is the transistor's current gain at
its operating current. The nonlinearity comes from the two BJTs alone. The cell
adds three ideal controlled sources around them:

- an input attenuator (two VCVS) that sets ``V_in = 2 V_T * gain_per_volt * V_x``
  around the supply midpoint, so the ideal output is
  ``I_out = I_tail * tanh(gain_per_volt * V_x)``;
- zero-volt sources in the collectors that measure ``I_c1`` and ``I_c2``;
- two CCCS that deliver ``I_c1 - I_c2`` into an external node pair.

The measured departures from the ideal ``tanh`` come from the transistor model.
The card's base leakage (``ISE``, ``NE``) makes ``beta`` depend on current, about
65 at 10 uA and about 135 at 1 mA. High injection (``IKF``) and the base
resistance ``RB`` add smaller terms. ``bench/tanh_cell_report.py`` prints them.

This module only writes netlist text, except ``measure_transfer``, which imports
the ngspice adapter when called and runs the cell in the shared library.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
from scipy.optimize import curve_fit

from npdehw.hw.checks import SAFE_NAME
from npdehw.hw.graph import GROUND
from npdehw.hw.netlist import format_value

__all__ = [
    "MIN_SUPPLY_V",
    "Q2N3904_PARAMETERS",
    "Departure",
    "TanhCell",
    "Transfer",
    "bjt_model_card",
    "measure_transfer",
    "small_signal_slope",
    "tanh_cell_text",
    "tanh_departure",
    "thermal_voltage_v",
]

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19
ZERO_CELSIUS_K = 273.15

# The commonly distributed 2N3904 Gummel-Poon card. Copies in circulation carry a
# Fairchild creation line dated 88-09-08 (case TO-92).
# NOTE: these values are unverified against a datasheet or a manufacturer's model
# file. Parameters missing here keep their SPICE defaults (NF = NR = 1, RE = 0,
# VAR infinite). Values are in SI units (A, V, ohm, F, s) with EG in eV, and the
# exponents and coefficients are dimensionless.
Q2N3904_PARAMETERS: dict[str, float] = {
    "is": 6.734e-15,
    "xti": 3.0,
    "eg": 1.11,
    "vaf": 74.03,
    "bf": 416.4,
    "ne": 1.259,
    "ise": 6.734e-15,
    "ikf": 66.78e-3,
    "xtb": 1.5,
    "br": 0.7371,
    "nc": 2.0,
    "isc": 0.0,
    "ikr": 0.0,
    "rc": 1.0,
    "cjc": 3.638e-12,
    "mjc": 0.3085,
    "vjc": 0.75,
    "fc": 0.5,
    "cje": 4.493e-12,
    "mje": 0.2593,
    "vje": 0.75,
    "tr": 239.5e-9,
    "tf": 301.2e-12,
    "itf": 0.4,
    "vtf": 4.0,
    "xtf": 2.0,
    "rb": 10.0,
}

# Minimum supply voltage (an estimate, not a measured limit). The bases sit at
# the supply midpoint and the tail node one V_BE below them, and V_BE of this card
# is about 0.67 V at 1 mA and 0.73 V at 10 mA. Keeping 0.3 V across a transistor
# tail source then needs a midpoint of about 1.1 V.
MIN_SUPPLY_V = 2.2

_PARAMETERS_PER_LINE = 6


def thermal_voltage_v(temperature_c: float) -> float:
    """Return V_T = k T / q in volts at ``temperature_c`` degrees Celsius."""
    return BOLTZMANN_J_PER_K * (temperature_c + ZERO_CELSIUS_K) / ELEMENTARY_CHARGE_C


def bjt_model_card(name: str = "q2n3904") -> str:
    """Return the ``.model`` card of the 2N3904 under ``name``, numbers in exponent form."""
    _check_name("model name", name)
    items = [f"{key}={format_value(value)}" for key, value in Q2N3904_PARAMETERS.items()]
    lines = [f".model {name} npn ("]
    for start in range(0, len(items), _PARAMETERS_PER_LINE):
        lines.append("+ " + " ".join(items[start:start + _PARAMETERS_PER_LINE]))
    lines.append("+ )")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TanhCell:
    """Parameters of one differential-pair tanh cell.

    Attributes:
        i_tail_a: tail current in amperes, the ideal output amplitude.
        gain_per_volt: input gain, so the ideal output is
            ``i_tail_a * tanh(gain_per_volt * V_x)`` with ``V_x`` in volts.
        supply_v: supply voltage between the ``vcc`` and ``vee`` pins in volts.
            The bases are biased at its midpoint.
        temperature_c: circuit temperature in degrees Celsius, used for V_T in the
            attenuator. The netlist that instantiates the cell must simulate at the
            same temperature (ngspice's default is 27).
        mismatch: relative emitter-area error of the second transistor (its area
            is ``1 + mismatch``), to model device mismatch. It moves the zero
            crossing of the output to ``V_x = ln(1 + mismatch) / (2 gain_per_volt)``.
        name: subcircuit name, in the alphabet ``[a-z0-9_]``.
    """

    i_tail_a: float = 100e-6
    gain_per_volt: float = 1.0
    supply_v: float = 5.0
    temperature_c: float = 27.0
    mismatch: float = 0.0
    name: str = "tanh_cell"

    def __post_init__(self):
        _check_name("cell name", self.name)
        for field, value in (("i_tail_a", self.i_tail_a),
                             ("gain_per_volt", self.gain_per_volt)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{field} must be a positive finite number, got {value!r}")
        if not (math.isfinite(self.supply_v) and self.supply_v >= MIN_SUPPLY_V):
            raise ValueError(f"supply_v must be at least {MIN_SUPPLY_V} V so the tail "
                             f"source keeps its headroom, got {self.supply_v!r}")
        if not (math.isfinite(self.temperature_c) and self.temperature_c > -ZERO_CELSIUS_K):
            raise ValueError(f"temperature_c must be above absolute zero, got "
                             f"{self.temperature_c!r}")
        if not (math.isfinite(self.mismatch) and self.mismatch > -1.0):
            raise ValueError(f"mismatch must be above -1 (a positive area), got "
                             f"{self.mismatch!r}")

    @property
    def thermal_voltage_v(self) -> float:
        """V_T in volts at the cell's temperature."""
        return thermal_voltage_v(self.temperature_c)

    @property
    def attenuation(self) -> float:
        """Differential base voltage per volt of input, ``2 V_T gain_per_volt``."""
        return 2.0 * self.thermal_voltage_v * self.gain_per_volt

    @property
    def model_name(self) -> str:
        """Name of the transistor model, local to the subcircuit."""
        return f"{self.name}_npn"

    def instance_line(self, designator: str, *, inp: str, inn: str, outp: str,
                      outn: str, vcc: str, vee: str) -> str:
        """Return the ``x`` line that places this cell between the given nets.

        Nets are names in ``[a-z0-9_]`` starting with a letter, or ``0`` for ground.

        ``I_out`` flows out of the cell into ``outp`` and returns through ``outn``.
        """
        if not designator.startswith("x"):
            raise ValueError(f"a subcircuit designator starts with 'x', got {designator!r}")
        _check_name("designator", designator)
        nets = (inp, inn, outp, outn, vcc, vee)
        for net in nets:
            if net != GROUND:
                _check_name("net", net)
        return f"{designator} {' '.join(nets)} {self.name}"


def tanh_cell_text(cell: TanhCell) -> str:
    """Return the ``.subckt`` text of ``cell``, with its ``.model`` card inside.

    Pins, in order: ``inp inn outp outn vcc vee``. The input is
    ``V_x = V(inp) - V(inn)`` and draws no current. The output current
    ``I_c1 - I_c2`` leaves the cell at ``outp`` and returns at ``outn``, so
    ``outp`` can be a node of an RC grid with ``outn`` at ground. The supply
    feeds the collectors and the tail current source.
    """
    half_gain = format_value(0.5 * cell.attenuation)
    lines = [
        f".subckt {cell.name} inp inn outp outn vcc vee",
        bjt_model_card(cell.model_name).rstrip("\n"),
        "* Bias: the bases swing around the supply midpoint vcm.",
        f"e_cm vcm vee vcc vee {format_value(0.5)}",
        "* Attenuator: V(bp) - V(bn) = 2 V_T gain_per_volt (V(inp) - V(inn)).",
        f"e_bp bp vcm inp inn {half_gain}",
        f"e_bn bn vcm inn inp {half_gain}",
        "* Zero-volt sources measure the collector currents.",
        f"v_c1 vcc c1 dc {format_value(0.0)}",
        f"v_c2 vcc c2 dc {format_value(0.0)}",
        f"q_1 c1 bp tail {cell.model_name}",
        f"q_2 c2 bn tail {cell.model_name} area={format_value(1.0 + cell.mismatch)}",
        f"i_tail tail vee dc {format_value(cell.i_tail_a)}",
        # NOTE: the CCCS outputs stand in for a current-mirror output stage. They
        # have unlimited compliance and draw no supply current, which a real
        # mirror would not do.
        "* Output: I_c1 - I_c2 flows out of outp and back in at outn.",
        f"f_p outn outp v_c1 {format_value(1.0)}",
        f"f_n outn outp v_c2 {format_value(-1.0)}",
        f".ends {cell.name}",
    ]
    return "\n".join(lines) + "\n"


class Transfer(NamedTuple):
    """A measured transfer curve in sweep order.

    Attributes:
        x_v: input voltage ``V_x`` in volts.
        i_out_a: output current ``I_out`` in amperes.
    """

    x_v: np.ndarray
    i_out_a: np.ndarray


def measure_transfer(cell: TanhCell, *, x_max_v: float | None = None, points: int = 601,
                     ramp_s: float = 1.0, descending: bool = False) -> Transfer:
    """Sweep ``V_x`` over ``[-x_max_v, x_max_v]`` in ngspice and return ``I_out``.

    The sweep is a transient run of a linear ramp, because the ngspice adapter runs
    transient analyses only. The ramp is slow enough to be quasi-static: at the
    default 1 s, the junction capacitances (a few pF) carry about 1e-12 A against
    the microamperes of the pair. A sense resistor of ``1 / i_tail_a`` ohms turns
    ``I_out`` into a node voltage of ``I_out / i_tail_a`` volts.

    Args:
        cell: the cell to measure.
        x_max_v: half-width of the sweep in volts; default ``3 / gain_per_volt``.
        points: number of output time steps (ngspice may add more).
        ramp_s: duration of the ramp in simulated seconds.
        descending: sweep from ``+x_max_v`` down instead of up.

    Raises:
        SimulationError: when ngspice fails.
    """
    from npdehw.sim.ngspice import run_netlist

    if x_max_v is None:
        x_max_v = 3.0 / cell.gain_per_volt
    if not (math.isfinite(x_max_v) and x_max_v > 0):
        raise ValueError(f"x_max_v must be a positive finite number, got {x_max_v!r}")
    if points < 3:
        raise ValueError(f"points must be at least 3, got {points!r}")
    if not (math.isfinite(ramp_s) and ramp_s > 0):
        raise ValueError(f"ramp_s must be a positive finite number, got {ramp_s!r}")
    start, stop = (x_max_v, -x_max_v) if descending else (-x_max_v, x_max_v)
    sense_ohm = 1.0 / cell.i_tail_a
    step_s = ramp_s / (points - 1)
    f = format_value
    netlist = "\n".join([
        f"* {cell.name}_transfer: generated by npdehw",
        tanh_cell_text(cell).rstrip("\n"),
        f"v_cc vcc 0 dc {f(cell.supply_v)}",
        f"v_x xin 0 pwl({f(0.0)} {f(start)} {f(ramp_s)} {f(stop)})",
        cell.instance_line("x_cell", inp="xin", inn="0", outp="sense", outn="0",
                           vcc="vcc", vee="0"),
        f"r_sense sense 0 {f(sense_ohm)}",
        f".options temp={f(cell.temperature_c)} tnom={f(27.0)} reltol={f(1e-6)} "
        f"abstol={f(1e-15)} vntol={f(1e-9)}",
        f".tran {f(step_s)} {f(ramp_s)} {f(0.0)} {f(step_s)}",
        ".end",
    ]) + "\n"
    result = run_netlist(netlist)
    return Transfer(result.voltages["xin"].copy(), result.voltages["sense"] / sense_ohm)


@dataclasses.dataclass(frozen=True)
class Departure:
    """Departure of a measured transfer from ``i_tail * tanh(gain * V_x)``.

    Attributes:
        max_departure: ``max |I_out / i_tail - tanh(gain V_x)|`` over the samples.
        x_at_max_v: input voltage where that maximum occurs.
        fit_gain_per_volt: ``g`` of the least-squares fit
            ``I_out / i_tail = A tanh(g V_x)``.
        fit_amplitude: ``A`` of that fit, close to the transistors' alpha.
        fit_max_residual: ``max |I_out / i_tail - A tanh(g V_x)|``, the error that
            no choice of gain and amplitude removes.
    """

    max_departure: float
    x_at_max_v: float
    fit_gain_per_volt: float
    fit_amplitude: float
    fit_max_residual: float


def tanh_departure(x_v, i_out_a, *, i_tail_a: float, gain_per_volt: float) -> Departure:
    """Compare a measured transfer with the ideal ``i_tail_a * tanh(gain_per_volt V_x)``."""
    x = np.asarray(x_v, dtype=float)
    ratio = np.asarray(i_out_a, dtype=float) / i_tail_a
    if x.shape != ratio.shape or x.ndim != 1 or x.size < 3:
        raise ValueError("x_v and i_out_a must be 1-D arrays of the same length, "
                         "with at least 3 samples")
    error = np.abs(ratio - np.tanh(gain_per_volt * x))
    worst = int(np.argmax(error))

    def model(x_in, amplitude, gain):
        return amplitude * np.tanh(gain * x_in)

    (amplitude, gain), _ = curve_fit(model, x, ratio, p0=(1.0, gain_per_volt))
    residual = np.max(np.abs(ratio - model(x, amplitude, gain)))
    return Departure(float(error[worst]), float(x[worst]), float(gain), float(amplitude),
                     float(residual))


def small_signal_slope(x_v, i_out_a, *, half_width_v: float) -> float:
    """Return dI_out/dV_x at V_x = 0 in siemens.

    The slope is the linear coefficient of a degree-5 polynomial fitted to the
    samples with ``|V_x| <= half_width_v``. A full polynomial, not an odd one,
    keeps an offset or an even error from biasing the slope.
    """
    x = np.asarray(x_v, dtype=float)
    current = np.asarray(i_out_a, dtype=float)
    inside = np.abs(x) <= half_width_v
    if np.count_nonzero(inside) < 12:
        raise ValueError(f"fewer than 12 samples within |V_x| <= {half_width_v} V")
    coefficients = np.polynomial.polynomial.polyfit(x[inside], current[inside], 5)
    return float(coefficients[1])


def _check_name(what: str, name: str) -> None:
    if not SAFE_NAME.match(name):
        raise ValueError(f"{what} {name!r} is not in the alphabet [a-z0-9_] "
                         "starting with a letter")
