"""Halo waveforms of tiles: the twin's trajectories as PWL points with shared corners.

ngspice places a breakpoint at every PWL corner and restarts with a short
first-order step after each one. A 25 x 25 tile of heat2d's 100 x 100 grid whose
halo sources had a corner at each of 500 twin steps ran about 8 times slower than
with constant sources. Corners at different times per source add up, so a tile's
halo sources share their corners, and a tolerance thins them out.
"""

from __future__ import annotations

import numpy as np

from npdehw.sim.twin import TwinResult

__all__ = ["TwinDrive", "shared_breakpoints"]


def shared_breakpoints(time_s: np.ndarray, volts: np.ndarray, tolerance_v: float) -> np.ndarray:
    """Return sample indices at which PWL corners keep every waveform within ``tolerance_v``.

    ``volts`` has shape ``(n_times, n_waveforms)``, and all waveforms get corners at
    the same times. The greedy pass keeps the first and last samples. From each
    corner it jumps to the farthest sample whose chords pass every sample in between
    within the tolerance.
    """
    time_s = np.asarray(time_s, dtype=float)
    volts = np.asarray(volts, dtype=float).reshape(len(time_s), -1)
    corners = [0]
    last = len(time_s) - 1
    while corners[-1] < last:
        anchor = corners[-1]
        span = (time_s[anchor + 1:] - time_s[anchor])[:, None]
        rise = volts[anchor + 1:] - volts[anchor]
        chord = rise / span
        # A chord to sample j passes sample k < j within tolerance when its slope lies
        # between the slopes to (t_k, v_k - tol) and (t_k, v_k + tol).
        upper = np.minimum.accumulate((rise + tolerance_v) / span, axis=0)
        lower = np.maximum.accumulate((rise - tolerance_v) / span, axis=0)
        fits = np.ones(len(chord), dtype=bool)
        fits[1:] = ((chord[1:] <= upper[:-1]) & (chord[1:] >= lower[:-1])).all(axis=1)
        misses = np.flatnonzero(~fits)
        corners.append(anchor + int(misses[0] if len(misses) else len(chord)))
    return np.array(corners)


class TwinDrive:
    """Halo waveforms from a twin trajectory, for ``TiledGrid.circuit``.

    ``tolerance_v`` bounds the deviation of each waveform from the twin's samples.
    After each call, ``corners`` is the number of PWL points each halo source got.
    """

    def __init__(self, twin: TwinResult, tolerance_v: float):
        self._time = twin.time_s
        self._voltages = twin.voltages
        self._column = {node: k for k, node in enumerate(twin.nodes)}
        self._tolerance_v = tolerance_v
        self.corners = 0

    def __call__(self, halo: list[str]) -> dict[str, list[tuple[float, float]]]:
        volts = self._voltages[:, [self._column[node] for node in halo]]
        corners = shared_breakpoints(self._time, volts, self._tolerance_v)
        self.corners = len(corners)
        times = self._time[corners].tolist()
        return {node: list(zip(times, volts[corners, k].tolist()))
                for k, node in enumerate(halo)}
