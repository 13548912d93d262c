"""Shared fixtures: a seeded random generator, the bundled heat1d design and a test grid."""

from pathlib import Path

import numpy as np
import pytest

from npdehw.design import load_design


@pytest.fixture
def rng():
    """A numpy generator with a fixed seed."""
    return np.random.default_rng(20261204)


@pytest.fixture
def heat1d():
    """The bundled heat1d design."""
    return load_design("heat1d")


# An N x N grid with decay, one driven side and one zero-flux side, short enough for
# ngspice in tiles to finish in seconds.
_GRID_DESIGN = """
name = "{name}"
description = "{n} x {n} grid with decay, one driven side and one zero-flux side"

[npde]
shape = [{n}, {n}]
length = [1.0, 1.0]
diffusion = 1.0
decay = 2.0
end_time = 0.02

[npde.boundary]
default = { kind = "dirichlet", value = 0.0 }
x_low = { kind = "dirichlet", value = 0.5 }
y_high = { kind = "zero_flux" }

[npde.initial]
kind = "gaussian"
center = [0.4, 0.6]
width = 0.15
amplitude = 1.0

[circuit]
time_scale_s = 1e-3
voltage_scale_v = 1.0
capacitance_f = 1e-9
resistor_series = "E96"
capacitor_series = "E12"

[simulation]
output_times = 11
twin_steps = 200
{probes}
[simulation.spice]
reltol = 1e-5
"""


@pytest.fixture(scope="module")
def grid_design(tmp_path_factory):
    """Return a function that writes the test grid design of ``n`` x ``n`` nodes."""

    def write(name: str, n: int, probe: tuple[int, int] | None = None) -> Path:
        probes = "" if probe is None else \
            f'probes = [{{ name = "center", index = [{probe[0]}, {probe[1]}] }}]\n'
        path = tmp_path_factory.mktemp("design") / f"{name}.toml"
        text = _GRID_DESIGN.replace("{name}", name).replace("{n}", str(n))
        path.write_text(text.replace("{probes}", probes), encoding="utf-8")
        return path

    return write
