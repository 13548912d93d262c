"""A dynamic memristor as a behavioural SPICE subcircuit, and its sine-drive demo.

The device is the linear ion-drift model. A doped layer of width ``w D`` in a film
of thickness ``D`` sets the resistance, and the current moves the boundary:

    R(w)  = R_on w + R_off (1 - w),            0 <= w <= 1
    i     = v / R(w)
    dw/dt = k i f(w, i),                       k = mu_v R_on / D^2

``mu_v`` is the dopant mobility, so ``k`` is in 1/C. ``w = 1`` is the low-resistance
(on) state, and a positive current (from ``p`` to ``n``) moves the device towards it.
A window function ``f`` slows the drift near the edges and keeps ``w`` in ``[0, 1]``:

- ``joglekar``: ``f(w) = 1 - (2 w - 1)^(2 p)``, zero at both edges whatever the
  current. It is evaluated at ``w`` clipped to ``[0, 1]``: unclipped, it turns
  negative outside, and a reversed current then drives ``w`` further out (ngspice
  stops with "timestep too small"). A drive that pushes ``w`` against an edge
  brings it exponentially close to the edge, where the window nearly vanishes,
  and how soon it leaves again depends on rounding and step size: SPICE and the
  twin then disagree;
- ``biolek`` (the default): ``f(w, i) = 1 - (w - s(-i))^(2 p)`` with ``s`` the
  unit step (``s(x) = 1`` for ``x >= 0``), zero only at the edge the current
  drives towards, so a reversed current drives the state back at full rate. It
  is negative just outside ``[0, 1]`` in the direction that pushes ``w`` back;
- ``none``: ``f = 1``, the bare linear drift. ``w`` can then leave ``[0, 1]``; the
  resistance then uses ``w`` clipped to ``[0, 1]``, in SPICE and in the twin.

With ``f = 1`` and while ``w`` stays in ``[0, 1]`` the model has a closed form
(``closed_form_current``), which the tests use as the reference.

In SPICE the state ``w`` is the voltage on a 1 F capacitor (1 V means ``w = 1``).
A behavioural current source charges it with ``k i f`` amperes, so its voltage
obeys the drift equation. A second behavioural source carries the device current
``v / R(w)`` between the terminals. Only B sources and a capacitor are used, so
the subcircuit needs no XSPICE code model.

``hysteresis_metrics`` measures a loop. For a pinched loop the signed integral
``∮ i dv`` over a whole period nearly cancels, because the lobes at positive and
negative voltage are traversed in opposite senses and enclose similar areas (equal
ones without a window). The loop area is therefore the sum of ``|∮ i dv|`` over
each lobe, one lobe per stretch between consecutive zero crossings of ``v``.

This module writes netlist text and measures arrays. ``simulate_loop_spice``
imports the ngspice adapter when it is called.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from npdehw.hw.checks import SAFE_NAME
from npdehw.hw.netlist import format_value

__all__ = [
    "WINDOWS",
    "HysteresisMetrics",
    "LoopTrace",
    "MemristorParameters",
    "closed_form_current",
    "hysteresis_metrics",
    "loop_netlist",
    "memristor_subckt_text",
    "simulate_loop_spice",
]

WINDOWS = ("joglekar", "biolek", "none")

# Nets of the demo netlist. The sense node carries the device current as a voltage,
# 1 V per ampere, from a current-controlled voltage source.
DRIVE_NET = "drive"
DEVICE_NET = "p"
STATE_NET = "w"
CURRENT_NET = "i_dev"


@dataclasses.dataclass(frozen=True, kw_only=True)
class MemristorParameters:
    """Parameters of the linear ion-drift memristor.

    Attributes:
        r_on_ohm: resistance of the fully doped film (``w = 1``).
        r_off_ohm: resistance of the undoped film (``w = 0``).
        thickness_m: film thickness ``D``.
        mobility_m2_per_vs: dopant mobility ``mu_v``.
        window: ``joglekar``, ``biolek`` or ``none``.
        window_p: positive integer exponent ``p`` of the window; larger values make
            the drift linear over more of ``[0, 1]``.
    """

    r_on_ohm: float = 100.0
    r_off_ohm: float = 16e3
    thickness_m: float = 10e-9
    mobility_m2_per_vs: float = 1e-14
    window: str = "biolek"
    window_p: int = 10

    def __post_init__(self):
        for name in ("r_on_ohm", "r_off_ohm", "thickness_m", "mobility_m2_per_vs"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if not self.r_off_ohm > self.r_on_ohm:
            raise ValueError(f"r_off_ohm ({self.r_off_ohm!r}) must exceed r_on_ohm "
                             f"({self.r_on_ohm!r})")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, got {self.window!r}")
        if isinstance(self.window_p, bool) or not isinstance(self.window_p, int) \
                or self.window_p < 1:
            raise ValueError(f"window_p must be a positive integer, got {self.window_p!r}")

    @property
    def drift_rate_per_c(self) -> float:
        """``k = mu_v R_on / D^2`` in 1/C: the change of ``w`` per coulomb at ``f = 1``."""
        return self.mobility_m2_per_vs * self.r_on_ohm / self.thickness_m ** 2

    def resistance_ohm(self, w):
        """Return ``R(w)`` with ``w`` clipped to ``[0, 1]`` (numbers or numpy arrays)."""
        x = np.clip(w, 0.0, 1.0)
        return self.r_on_ohm * x + self.r_off_ohm * (1.0 - x)


def _check_name(name: str) -> None:
    if not SAFE_NAME.match(name):
        raise ValueError(f"name {name!r} is not in the alphabet [a-z0-9_] starting with a letter")


def memristor_subckt_text(params: MemristorParameters, name: str = "memristor") -> str:
    """Return a ``.subckt NAME p n w`` definition of the device, ending with a newline.

    Ports: ``p`` and ``n`` are the terminals. A positive current flows from ``p``
    through the device to ``n`` and moves it towards the on state. ``w`` is the
    state node: its voltage in volts is the state, kept on a 1 F capacitor to the
    global ground. The subcircuit parameter ``w0`` is that capacitor's initial
    voltage, used by a transient with ``uic``; an instance sets it with
    ``x1 a b s NAME w0=2.000000000000e-01``. Its default is 0.1.
    """
    _check_name(name)
    f = format_value
    clipped = f"min(max(v(w),{f(0.0)}),{f(1.0)})"
    resistance = f"({f(params.r_on_ohm)}*{clipped}+{f(params.r_off_ohm)}*({f(1.0)}-{clipped}))"
    current = f"(v(p,n)/{resistance})"
    power = f(float(params.window_p))
    if params.window == "joglekar":
        # (2w - 1)^(2p) written as ((2w - 1)^2)^p, so the base of the power is never negative.
        square = f"(({f(2.0)}*{clipped}-{f(1.0)})*({f(2.0)}*{clipped}-{f(1.0)}))"
        window = f"({f(1.0)}-pow({square},{power}))"
    elif params.window == "biolek":
        # s(-i) = 1 when v(p,n) < 0, because i has the sign of v(p,n). At v(p,n) = 0
        # the drift is zero whichever value the step takes.
        shifted = "(v(w)-u(-v(p,n)))"
        window = f"({f(1.0)}-pow({shifted}*{shifted},{power}))"
    else:
        window = f(1.0)
    lines = [
        f".subckt {name} p n w w0={f(0.1)}",
        f"* linear ion-drift memristor, window {params.window}, p = {params.window_p}",
        f"b_dev p n i={current}",
        f"c_state w 0 {f(1.0)} ic={{w0}}",
        f"b_state 0 w i={f(params.drift_rate_per_c)}*{current}*{window}",
        f".ends {name}",
    ]
    return "\n".join(lines) + "\n"


def _check_drive(amplitude_v, frequency_hz, periods, points_per_period, w0):
    if not (math.isfinite(amplitude_v) and amplitude_v > 0):
        raise ValueError(f"amplitude_v must be a positive finite number, got {amplitude_v!r}")
    if not (math.isfinite(frequency_hz) and frequency_hz > 0):
        raise ValueError(f"frequency_hz must be a positive finite number, got {frequency_hz!r}")
    if not (math.isfinite(periods) and periods > 0):
        raise ValueError(f"periods must be a positive finite number, got {periods!r}")
    if not (isinstance(points_per_period, int) and points_per_period >= 8):
        raise ValueError(f"points_per_period must be an integer >= 8, got {points_per_period!r}")
    if not (math.isfinite(w0) and 0.0 <= w0 <= 1.0):
        raise ValueError(f"w0 must lie in [0, 1], got {w0!r}")


def loop_netlist(params: MemristorParameters, *, amplitude_v: float, frequency_hz: float,
                 w0: float = 0.1, periods: float = 1.0, points_per_period: int = 2000,
                 reltol: float = 1e-7, parallel_capacitance_f: float = 0.0) -> str:
    """Return the demo netlist: a sine source ``amplitude_v sin(2 pi f t)`` across one device.

    Nets: ``drive`` (the source), ``p`` (the device terminal, equal to ``drive``
    through a zero-volt sense source), ``w`` (the state) and ``i_dev`` (the current
    through the sense source in amperes, as volts). The transient runs ``periods``
    periods from ``w = w0`` with ``uic``; the largest internal step is one
    ``points_per_period``-th of a period, which also sets the print step.

    ``parallel_capacitance_f`` > 0 adds a capacitor across the device, after the
    sense source, as a parasitic that opens the pinch: at the zero crossings of
    ``v`` the sensed current is then ``C dv/dt = +-C A 2 pi f``.
    """
    _check_drive(amplitude_v, frequency_hz, periods, points_per_period, w0)
    if not (math.isfinite(reltol) and 0 < reltol < 1e-2):
        raise ValueError(f"reltol must lie in (0, 1e-2), got {reltol!r}")
    if not (math.isfinite(parallel_capacitance_f) and parallel_capacitance_f >= 0):
        raise ValueError("parallel_capacitance_f must be a finite number >= 0, got "
                         f"{parallel_capacitance_f!r}")
    f = format_value
    period_s = 1.0 / frequency_hz
    step_s = period_s / points_per_period
    stop_s = periods * period_s
    lines = [
        "* memristor_loop: generated by npdehw",
        memristor_subckt_text(params, "memristor").rstrip("\n"),
        f"v_drive {DRIVE_NET} 0 sin({f(0.0)} {f(amplitude_v)} {f(frequency_hz)} "
        f"{f(0.0)} {f(0.0)} {f(0.0)})",
        f"v_sense {DRIVE_NET} {DEVICE_NET} dc {f(0.0)}",
        f"x_dev {DEVICE_NET} 0 {STATE_NET} memristor w0={f(w0)}",
        f"h_sense {CURRENT_NET} 0 v_sense {f(1.0)}",
        *([f"c_parallel {DEVICE_NET} 0 {f(parallel_capacitance_f)} ic={f(0.0)}"]
          if parallel_capacitance_f > 0 else []),
        f".options method=trap reltol={f(reltol)} abstol={f(1e-15)} vntol={f(1e-12)}",
        f".tran {f(step_s)} {f(stop_s)} {f(0.0)} {f(step_s)} uic",
        ".end",
    ]
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class LoopTrace:
    """Waveforms of one sine-driven device, as numpy arrays of one length.

    Attributes:
        time_s: sample times in seconds (ngspice's own, uneven, or the twin's grid).
        v: device voltage in volts.
        i: device current in amperes, positive from ``p`` to ``n``.
        w: state in ``[0, 1]``.
    """

    time_s: np.ndarray
    v: np.ndarray
    i: np.ndarray
    w: np.ndarray


def simulate_loop_spice(params: MemristorParameters, *, amplitude_v: float, frequency_hz: float,
                        w0: float = 0.1, periods: float = 1.0, points_per_period: int = 2000,
                        reltol: float = 1e-7, parallel_capacitance_f: float = 0.0) -> LoopTrace:
    """Run ``loop_netlist`` in ngspice and return its waveforms.

    ngspice 39 writes no ``t = 0`` sample in a transient with ``uic``. This function
    adds it from the known initial state, so the first lobe starts at a zero
    crossing: ``v = 0``, ``w = w0``, and ``i = 0`` unless a parallel capacitor
    carries ``C A 2 pi f``.

    Raises:
        SimulationError: when ngspice fails.
    """
    from npdehw.sim.ngspice import run_netlist

    netlist = loop_netlist(params, amplitude_v=amplitude_v, frequency_hz=frequency_hz, w0=w0,
                           periods=periods, points_per_period=points_per_period, reltol=reltol,
                           parallel_capacitance_f=parallel_capacitance_f)
    result = run_netlist(netlist)
    volts = result.voltages
    time_s, v, i, w = (result.time_s, volts[DEVICE_NET], volts[CURRENT_NET], volts[STATE_NET])
    if time_s[0] > 0.0:
        # ngspice 39 writes no t = 0 point in a transient with uic. That point is
        # known exactly: the sine is zero, so the device carries no current, the
        # parallel capacitor carries C dv/dt = C A 2 pi f, and w = w0.
        i_start = parallel_capacitance_f * amplitude_v * 2.0 * math.pi * frequency_hz
        time_s, v = (np.concatenate([[0.0], x]) for x in (time_s, v))
        i, w = np.concatenate([[i_start], i]), np.concatenate([[w0], w])
    return LoopTrace(time_s, v, i, w)


_OUTSIDE_CLOSED_FORM = ("the state leaves [0, 1], so the closed form is invalid for this drive; "
                        "lower the amplitude, raise the frequency or shorten the time span")


def closed_form_current(params: MemristorParameters, time_s, *, amplitude_v: float,
                        frequency_hz: float, w0: float = 0.1):
    """Return ``(i, w)`` of the window-free model (``f = 1``) under ``amplitude_v sin(2 pi f t)``.

    With ``f = 1`` the state follows the charge, ``w = w0 + k q``, so the
    resistance is ``M(q) = R0 - (R_off - R_on) k q`` with ``R0 = R(w0)``. Its integral
    over charge is the flux ``phi(t) = (A / omega) (1 - cos omega t)``, which gives

        R(t) = sqrt(R0^2 - 2 (R_off - R_on) k phi(t)),   i = v / R(t).

    The formula is valid while ``w`` stays in ``[0, 1]``. The function raises
    ValueError when ``w`` leaves that range at any of the given times.
    """
    t = np.asarray(time_s, dtype=float)
    omega = 2.0 * math.pi * frequency_hz
    v = amplitude_v * np.sin(omega * t)
    flux = amplitude_v / omega * (1.0 - np.cos(omega * t))
    r0 = float(params.resistance_ohm(w0))
    delta_r = params.r_off_ohm - params.r_on_ohm
    squared = r0 ** 2 - 2.0 * delta_r * params.drift_rate_per_c * flux
    if np.any(squared < params.r_on_ohm ** 2):
        raise ValueError(_OUTSIDE_CLOSED_FORM)
    resistance = np.sqrt(squared)
    w = (params.r_off_ohm - resistance) / delta_r
    if np.any(w < 0.0) or np.any(w > 1.0):
        raise ValueError(_OUTSIDE_CLOSED_FORM)
    return v / resistance, w


@dataclasses.dataclass(frozen=True)
class HysteresisMetrics:
    """Measures of an i-v loop.

    Attributes:
        loop_area_w: sum over complete lobes of ``|∮ i dv|``, in volt-amperes (W).
        lobe_areas_w: signed ``∫ i dv`` of each complete lobe, in time order.
        crossing_currents_a: ``|i|`` at each zero crossing of ``v``, interpolated
            linearly between the samples around it.
        max_crossing_current_a: the largest of them (0 when ``v`` never crosses zero).
        max_current_a: ``max |i|``.
        pinch_ratio: ``max_crossing_current_a / max_current_a``; near zero for a
            pinched loop.
        r_min_ohm, r_max_ohm: extremes of ``v / i`` over samples with
            ``|v| >= min_fraction * max |v|``.
        resistance_ratio: ``r_max_ohm / r_min_ohm``.
    """

    loop_area_w: float
    lobe_areas_w: tuple[float, ...]
    crossing_currents_a: tuple[float, ...]
    max_crossing_current_a: float
    max_current_a: float
    pinch_ratio: float
    r_min_ohm: float
    r_max_ohm: float
    resistance_ratio: float


def _as_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def hysteresis_metrics(v, i, *, min_fraction: float = 1e-3,
                       zero_fraction: float = 1e-12) -> HysteresisMetrics:
    """Measure the i-v loop of the samples ``v[k], i[k]`` (numpy arrays or torch tensors).

    Zero crossings of ``v`` are sign changes between neighbouring samples, or samples
    with ``|v| <= zero_fraction * max |v|`` (a run of such samples counts once, at
    its first sample). The tolerance absorbs rounding: ``sin(2 pi)`` is -2.4e-16,
    not zero. A lobe is the stretch between two consecutive crossings, closed by
    the crossing points, so the samples before the first crossing and after the
    last one count in no lobe.
    """
    v = _as_numpy(v).ravel()
    i = _as_numpy(i).ravel()
    if v.shape != i.shape or v.size < 3:
        raise ValueError(f"v and i need the same length of at least 3, got {v.size} and {i.size}")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(i))):
        raise ValueError("v and i must be finite")
    scale = float(np.max(np.abs(v)))
    at_zero = np.abs(v) <= zero_fraction * scale
    crossings = []  # (position as fractional index, interpolated current)
    for k in range(v.size):
        if at_zero[k]:
            if not (k > 0 and at_zero[k - 1]):
                crossings.append((float(k), i[k]))
        elif k + 1 < v.size and not at_zero[k + 1] and (v[k] > 0.0) != (v[k + 1] > 0.0):
            fraction = v[k] / (v[k] - v[k + 1])
            crossings.append((k + fraction, i[k] + fraction * (i[k + 1] - i[k])))
    lobes = []
    for (start, i_start), (stop, i_stop) in zip(crossings, crossings[1:]):
        first, last = math.floor(start) + 1, math.ceil(stop) - 1
        lobe_v = np.concatenate([[0.0], v[first:last + 1], [0.0]])
        lobe_i = np.concatenate([[i_start], i[first:last + 1], [i_stop]])
        lobes.append(float(np.sum(0.5 * (lobe_i[1:] + lobe_i[:-1]) * np.diff(lobe_v))))
    crossing_currents = tuple(abs(float(c)) for _, c in crossings)
    max_crossing = max(crossing_currents, default=0.0)
    max_current = float(np.max(np.abs(i)))
    keep = np.abs(v) >= min_fraction * scale
    keep &= i != 0.0
    resistance = v[keep] / i[keep]
    if resistance.size == 0:
        r_min = r_max = float("nan")
    else:
        r_min, r_max = float(np.min(resistance)), float(np.max(resistance))
    return HysteresisMetrics(
        loop_area_w=float(sum(abs(a) for a in lobes)),
        lobe_areas_w=tuple(lobes),
        crossing_currents_a=crossing_currents,
        max_crossing_current_a=max_crossing,
        max_current_a=max_current,
        pinch_ratio=max_crossing / max_current if max_current > 0 else float("nan"),
        r_min_ohm=r_min,
        r_max_ohm=r_max,
        resistance_ratio=r_max / r_min if resistance.size else float("nan"),
    )
