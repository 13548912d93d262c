"""Design-specific figures computed from a run, selected by ``[analysis] kind``.

Each analysis checks its settings when the design loads (``check``) and turns a run
into metrics for ngspice and the twin alike (``run``); values are in model units.

- ``front_speed``: speed of a travelling front (Fisher-KPP) against ``2 sqrt(r D)``.
- ``wave_packet``: norm and width of a Schrodinger packet against the free-packet law
  ``sigma(t) = sigma0 sqrt(1 + (c t / sigma0^2)^2)``, ``c = 1 / (2 m)``.
- ``edge_map``: the settled output of a cellular network against the edge map of its
  input image.
- ``network_output``: the settled output nodes of an imported torch network against
  the network's own output.
"""

from __future__ import annotations

import math

import numpy as np

from npdehw.errors import SpecError

__all__ = ["ANALYSES", "run_analysis"]

SIMULATORS = ("spice", "twin")


def _require_numbers(settings: dict, keys, optional=()):
    for key in keys:
        if key not in settings:
            raise SpecError(key, "missing; add it to [analysis]")
    for key in list(keys) + [k for k in optional if k in settings]:
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(key, f"must be a finite number, got {value!r}")
    unknown = set(settings) - set(keys) - set(optional)
    if unknown:
        allowed = sorted(set(keys) | set(optional))
        takes = f"takes only {allowed}" if allowed else "takes no other keys"
        raise SpecError(sorted(unknown)[0], f"unknown key; [analysis] of this kind {takes}")


def _field_values(result, key: str, field: str) -> np.ndarray:
    npde = result.design.npde
    block = npde.field_slice(field)
    return result.voltages[key][:, block] / result.design.mapping.voltage_scale_v


class FrontSpeed:
    """Front position where the field crosses ``level``, fitted linearly from ``fit_from``."""

    @staticmethod
    def check(settings):
        _require_numbers(settings, ("rate", "diffusion"), ("level", "fit_from"))

    @staticmethod
    def positions(values: np.ndarray, x: np.ndarray, level: float) -> np.ndarray:
        result = []
        for row in values:
            below = np.flatnonzero(row < level)
            k = below[0] if below.size else len(row) - 1
            if k == 0:
                result.append(x[0])
                continue
            fraction = (row[k - 1] - level) / (row[k - 1] - row[k])
            result.append(x[k - 1] + fraction * (x[k] - x[k - 1]))
        return np.array(result)

    @classmethod
    def run(cls, result, settings) -> dict:
        npde = result.design.npde
        x = npde.grid.coordinates()[0]
        level = settings.get("level", 0.5)
        start = settings.get("fit_from", 0.5 * npde.end_time)
        expected = 2 * math.sqrt(settings["rate"] * settings["diffusion"])
        times = result.model_time
        selected = times >= start
        metrics = {"expected_speed": expected, "fit_from": start, "level": level}
        for key in SIMULATORS:
            position = cls.positions(_field_values(result, key, npde.fields[0]), x, level)
            speed = float(np.polyfit(times[selected], position[selected], 1)[0])
            metrics[key] = {"speed": speed, "relative_error": speed / expected - 1,
                            "position": position.tolist()}
        return metrics


class WavePacket:
    """Norm ``h sum(u^2 + v^2)`` and width (standard deviation of |psi|^2) over time."""

    @staticmethod
    def check(settings):
        _require_numbers(settings, ("initial_width",), ("coefficient",))

    @classmethod
    def run(cls, result, settings) -> dict:
        npde = result.design.npde
        x = npde.grid.coordinates()[0]
        h = npde.grid.spacing[0]
        sigma0 = settings["initial_width"]
        c = settings.get("coefficient", 0.5)
        times = result.model_time
        expected = sigma0 * np.sqrt(1 + (c * times / sigma0**2) ** 2)
        metrics = {"expected_width": expected.tolist()}
        for key in SIMULATORS:
            density = _field_values(result, key, "u") ** 2 + _field_values(result, key, "v") ** 2
            norm = h * density.sum(axis=1)
            mean = (density * x).sum(axis=1) / density.sum(axis=1)
            width = np.sqrt((density * (x - mean[:, None]) ** 2).sum(axis=1) / density.sum(axis=1))
            metrics[key] = {
                "norm": norm.tolist(),
                "max_norm_change": float(np.max(np.abs(norm / norm[0] - 1))),
                "width": width.tolist(),
                "max_width_error": float(np.max(np.abs(width / expected - 1))),
            }
        return metrics


class EdgeMap:
    """Settled output ``sign(pwl_sat(x))`` against the input's edge map, pixel by pixel."""

    @staticmethod
    def check(settings):
        _require_numbers(settings, (), ())

    @staticmethod
    def expected(image: np.ndarray) -> np.ndarray:
        """Return black pixels (True) with at least one white pixel among their 8 neighbours.

        Pixels outside the image count as white.
        """
        padded = np.pad(image, 1, constant_values=False)
        white_near = np.zeros_like(image)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di or dj:
                    shifted = padded[1 + di:1 + di + image.shape[0], 1 + dj:1 + dj + image.shape[1]]
                    white_near |= ~shifted
        return image & white_near

    @classmethod
    def run(cls, result, settings) -> dict:
        npde = result.design.npde
        image = npde.initial_state()[npde.field_slice("uin")].reshape(npde.grid.shape) > 0
        expected = cls.expected(image)
        metrics = {"expected": expected.astype(int).tolist(), "pixels": int(expected.size),
                   "edge_pixels": int(expected.sum())}
        for key in SIMULATORS:
            state = _field_values(result, key, "x")[-1].reshape(npde.grid.shape)
            output = 0.5 * (np.abs(state + 1) - np.abs(state - 1))
            settled = output > 0
            metrics[key] = {"mismatched_pixels": int((settled != expected).sum()),
                            "min_abs_output": float(np.abs(output).min()),
                            "output": settled.astype(int).tolist()}
        return metrics


class NetworkOutput:
    """Settled output nodes of an imported network against the torch module's output."""

    @staticmethod
    def check(settings):
        _require_numbers(settings, (), ())

    @classmethod
    def run(cls, result, settings) -> dict:
        info = result.design.model_info
        if info is None:
            raise SpecError("kind", "network_output needs a design with [npde.model] kind = "
                                    "\"torch_mlp\"")
        start, stop = info["output_slice"]
        expected = np.array(info["expected_output"])
        metrics = {"expected": expected.tolist()}
        scale = result.design.mapping.voltage_scale_v
        for key in SIMULATORS:
            settled = result.voltages[key][-1, start:stop] / scale
            metrics[key] = {"output": settled.tolist(),
                            "max_abs_error": float(np.max(np.abs(settled - expected)))}
        return metrics


ANALYSES = {"front_speed": FrontSpeed, "wave_packet": WavePacket, "edge_map": EdgeMap,
            "network_output": NetworkOutput}


def run_analysis(result) -> dict | None:
    """Return the metrics of the design's ``[analysis]``, or None without one."""
    settings = result.design.analysis
    if settings is None:
        return None
    kind = settings["kind"]
    options = {k: v for k, v in settings.items() if k != "kind"}
    return {"kind": kind, **ANALYSES[kind].run(result, options)}
