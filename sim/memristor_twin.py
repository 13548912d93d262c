"""Torch twin of the sine-driven memristor of ``npdehw.hw.memristor``.

It integrates the same state equation as the SPICE subcircuit,

    dw/dt = k i f(w, i),   i = v(t) / R(w),   v(t) = A sin(2 pi f_drive t),

with the classical fixed-step Runge-Kutta method of order 4, in float64. The
resistance uses ``w`` clipped to ``[0, 1]`` and the window is applied to the
unclipped ``w``, as in the netlist. The formulas here are written in torch from the
equations, not translated from the netlist text, so the two implementations check
each other.

The right-hand side is smooth for the Joglekar window and for ``none``. The Biolek
window switches where ``i`` changes sign, but ``i`` is a factor of the drift, so the
right-hand side is continuous there. Its derivative jumps, which lowers the local
order of the step at two points per period.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from npdehw.hw.memristor import LoopTrace, MemristorParameters

__all__ = ["TwinLoop", "relative_l2", "simulate_loop_twin"]


@dataclasses.dataclass(frozen=True)
class TwinLoop:
    """Waveforms of the twin on its uniform grid, as float64 torch tensors.

    Attributes:
        time_s: grid times ``n T / steps_per_period``, from 0 to the end time.
        v, i, w: device voltage (V), current (A) and state on that grid.

    In a batched run each tensor contains one row per run.
    """

    time_s: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor
    w: torch.Tensor

    def to_trace(self, run: int | None = None) -> LoopTrace:
        """Return the waveforms as a numpy ``LoopTrace``; ``run`` picks a row of a batch."""
        tensors = (self.time_s, self.v, self.i, self.w)
        if run is not None:
            tensors = tuple(x[run] for x in tensors)
        elif self.time_s.dim() != 1:
            raise ValueError("this loop contains a batch of runs; pass run=<row index>")
        return LoopTrace(*(x.detach().cpu().numpy().copy() for x in tensors))


def _window(params: MemristorParameters, w: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    two_p = 2 * params.window_p
    if params.window == "joglekar":
        return 1.0 - (2.0 * w.clamp(0.0, 1.0) - 1.0) ** two_p
    if params.window == "biolek":
        step_of_minus_i = (i <= 0.0).to(w.dtype)  # s(x) = 1 for x >= 0
        return 1.0 - (w - step_of_minus_i) ** two_p
    return torch.ones_like(w)


def _current(params: MemristorParameters, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = w.clamp(0.0, 1.0)
    return v / (params.r_on_ohm * x + params.r_off_ohm * (1.0 - x))


def simulate_loop_twin(params: MemristorParameters, *, amplitude_v, frequency_hz,
                       w0: float = 0.1, periods: float = 1.0,
                       steps_per_period: int = 2000) -> TwinLoop:
    """Integrate the device under ``amplitude_v sin(2 pi frequency_hz t)`` from ``w = w0``.

    ``amplitude_v`` and ``frequency_hz`` are numbers, or sequences that broadcast
    to one batch of independent runs. The runs share the number of steps per period
    and are integrated together, so a batch costs about as much as one run. The
    outputs are then of shape ``(batch, steps + 1)``, one row per run, otherwise
    ``(steps + 1,)``.

    Near an edge of ``[0, 1]`` the window makes the state relax at a rate of up to
    ``lambda = 4 p k A / R_on`` per second (``A`` the amplitude). RK4 is stable for
    steps below ``2.8 / lambda``; beyond that, ``w`` overshoots the edge. For
    ``p = 10`` and ``A = 1 V``, ``lambda = 4000 / s``: a drive that reaches the edge
    needs more than ``1400 / f`` steps per period, and the tests use
    ``4000 / f`` or more.

    Args:
        params: the device.
        amplitude_v, frequency_hz: the sine drive, positive.
        w0: initial state in ``[0, 1]``.
        periods: simulated time in periods of the drive; ``periods * steps_per_period``
            is rounded to a whole number of steps.
        steps_per_period: Runge-Kutta steps per period.
    """
    dtype = torch.float64
    amplitude = torch.as_tensor(amplitude_v, dtype=dtype)
    frequency = torch.as_tensor(frequency_hz, dtype=dtype)
    batched = amplitude.dim() > 0 or frequency.dim() > 0
    amplitude, frequency = torch.broadcast_tensors(amplitude.reshape(-1), frequency.reshape(-1))
    for name, value in (("amplitude_v", amplitude), ("frequency_hz", frequency)):
        if value.numel() == 0 or not bool(torch.all(torch.isfinite(value) & (value > 0))):
            raise ValueError(f"{name} must contain only positive finite numbers, "
                             f"got {value.tolist()!r}")
    if not (math.isfinite(periods) and periods > 0):
        raise ValueError(f"periods must be a positive finite number, got {periods!r}")
    if not (math.isfinite(w0) and 0.0 <= w0 <= 1.0):
        raise ValueError(f"w0 must lie in [0, 1], got {w0!r}")
    if not (isinstance(steps_per_period, int) and steps_per_period >= 8):
        raise ValueError(f"steps_per_period must be an integer >= 8, got {steps_per_period!r}")
    n_steps = max(1, round(periods * steps_per_period))
    dt = 1.0 / (frequency * steps_per_period)
    k = params.drift_rate_per_c

    # The drive at every step and half step. The phase 2 pi m / (2 steps_per_period)
    # is the same for every run in the batch.
    half_phase = torch.arange(2 * n_steps + 1, dtype=dtype) * (math.pi / steps_per_period)
    drive = amplitude[:, None] * torch.sin(half_phase)[None, :]
    drive_at = list(drive.T.unbind())

    def rate(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        i = _current(params, w, v)
        return k * i * _window(params, w, i)

    w = torch.full_like(amplitude, float(w0))
    states = [w]
    for n in range(n_steps):
        v_start, v_mid, v_end = drive_at[2 * n], drive_at[2 * n + 1], drive_at[2 * n + 2]
        k1 = rate(w, v_start)
        k2 = rate(w + 0.5 * dt * k1, v_mid)
        k3 = rate(w + 0.5 * dt * k2, v_mid)
        k4 = rate(w + dt * k3, v_end)
        w = w + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        states.append(w)
    w_all = torch.stack(states, dim=1)
    v_all = drive[:, ::2]
    time_s = torch.arange(n_steps + 1, dtype=dtype)[None, :] * dt[:, None]
    loop = TwinLoop(time_s, v_all, _current(params, w_all, v_all), w_all)
    if batched:
        return loop
    return TwinLoop(*(x[0] for x in (loop.time_s, loop.v, loop.i, loop.w)))


def relative_l2(reference_time_s, reference, time_s, values) -> float:
    """Return ``||interp(reference) - values|| / ||values||`` on the grid ``time_s``.

    ``reference`` sampled at ``reference_time_s`` (for example ngspice's uneven
    points) is interpolated linearly onto ``time_s`` with ``numpy.interp``.
    """
    values = np.asarray(values, dtype=float)
    moved = np.interp(np.asarray(time_s, dtype=float), np.asarray(reference_time_s, dtype=float),
                      np.asarray(reference, dtype=float))
    return float(np.linalg.norm(moved - values) / np.linalg.norm(values))
