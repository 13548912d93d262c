"""The linear ion-drift memristor in real ngspice and in the torch twin, under a sine drive.

References. With no window the model has a closed form (``closed_form_current``):
the resistance follows the flux, ``R(t) = sqrt(R0^2 - 2 (R_off - R_on) k phi(t))``.
Both simulators are held to it. With a window there is no closed form, and the two
simulators, written separately from the same equations, are held to each other.
The metrics are checked on an ellipse, whose area and zero-crossing current are
known exactly.

Drive: 1 V at 0.5, 1 and 5 Hz from w0 = 0.1, one period. That moves w up to about
0.86, 0.36 and 0.15, away from the edges. The check that w stays in [0, 1] uses
1 V at 0.4 Hz, which drives a device without a window far above w = 1.

Tolerances. ngspice runs at reltol 1e-7 with print and largest step T / 2000; the
twin takes 2000 RK4 steps per period.
- SPICE against the closed form or the twin: relative L2 of i(t), after
  interpolating ngspice's points onto the twin grid with numpy.interp, below 1e-4.
  Measured: at most 3.1e-6 (at 0.5 Hz), so the margin is about 30x. Most of that
  comes from the linear interpolation and ngspice's truncation error: with
  T / 8000 it falls to 2e-7. The smallest model error this must catch is a 1 %
  error in the mobility. It moves i by 4.6e-2 at 0.5 Hz and by 3.0e-4 at 5 Hz,
  three times the tolerance.
- Twin against the closed form: below 1e-9. Measured: at most 2.5e-12.
- Pinch: |i| at the zero crossings of v below 1e-3 of max |i|. Measured: at most
  1.9e-8 in ngspice and 5e-16 in the twin. A 0.1 uF capacitor across the device
  raises it to 7.8e-3.
- w in [0, 1] up to 1e-6: ngspice overshoots the edge by at most 3e-8 (Joglekar).
"""

import dataclasses
import math
import re

import numpy as np
import pytest
import torch

from npdehw.hw.memristor import (
    MemristorParameters,
    closed_form_current,
    hysteresis_metrics,
    loop_netlist,
    memristor_subckt_text,
    simulate_loop_spice,
)
from npdehw.sim.memristor_twin import relative_l2, simulate_loop_twin

NUMBER = re.compile(r"^[-+]?\d\.\d{12}e[-+]\d+$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# A number not inside a name, with any exponent and unit letters after it.
NUMBER_LIKE = re.compile(r"(?<![a-z0-9_.])[-+]?\d[0-9.]*(?:e[-+]?\d+)?[a-z]*")

AMPLITUDE_V = 1.0
W0 = 0.1
FREQUENCIES_HZ = (0.5, 1.0, 5.0)
AGREEMENT_TOLERANCE = 1e-4  # relative L2 of i(t), see the module docstring
TWIN_CLOSED_FORM_TOLERANCE = 1e-9
PINCH_TOLERANCE = 1e-3
STATE_TOLERANCE = 1e-6

STRONG_FREQUENCY_HZ = 0.4
STRONG_TWIN_STEPS = 10000  # 4000 / f, see simulate_loop_twin


def _spice(params, frequency_hz, **options):
    return simulate_loop_spice(params, amplitude_v=AMPLITUDE_V, frequency_hz=frequency_hz,
                               w0=W0, **options)


@pytest.fixture(scope="module", params=["biolek", "joglekar"])
def windowed(request):
    """SPICE traces and the twin batch for one window at the three frequencies."""
    params = MemristorParameters(window=request.param)
    spice = [_spice(params, f) for f in FREQUENCIES_HZ]
    twin = simulate_loop_twin(params, amplitude_v=AMPLITUDE_V, frequency_hz=FREQUENCIES_HZ, w0=W0)
    return params, spice, [twin.to_trace(row) for row in range(len(FREQUENCIES_HZ))]


# --- netlist text -----------------------------------------------------------------


def test_netlist_plain_floats_and_names():
    params = MemristorParameters(window="joglekar", window_p=4)
    text = loop_netlist(params, amplitude_v=1.5, frequency_hz=2.0, w0=0.3,
                        parallel_capacitance_f=1e-9)
    assert text.endswith(".end\n")
    body = [line for line in text.splitlines() if not line.startswith("*")]
    for line in body:
        first = line.split()[0]
        assert first.startswith(".") or NAME.match(first), line
        for word in line.split():
            if word == "0":  # the ground node
                continue
            for token in NUMBER_LIKE.findall(word):
                assert NUMBER.match(token), f"{token!r} in {line!r}"
    assert "w0=3.000000000000e-01" in text
    assert "1.000000000000e+04*" in text  # k = mu R_on / D^2 = 1e4 per coulomb
    assert "pow(" in text
    assert "u(" not in text  # the Joglekar window has no step function
    subckt = memristor_subckt_text(MemristorParameters(), "dev_a")
    assert subckt.startswith(".subckt dev_a p n w ")
    assert subckt.endswith(".ends dev_a\n")
    assert "u(-v(p,n))" in subckt


@pytest.mark.parametrize("change", [
    {"r_on_ohm": 0.0}, {"r_off_ohm": 50.0}, {"window": "hann"}, {"window_p": 0},
    {"thickness_m": float("nan")},
])
def test_invalid_parameters_rejected(change):
    with pytest.raises(ValueError):
        MemristorParameters(**change)


def test_invalid_names_and_drives_rejected():
    params = MemristorParameters()
    with pytest.raises(ValueError, match="alphabet"):
        memristor_subckt_text(params, "x\n.control")
    with pytest.raises(ValueError, match="w0"):
        loop_netlist(params, amplitude_v=1.0, frequency_hz=1.0, w0=1.5)
    with pytest.raises(ValueError, match="frequency_hz"):
        simulate_loop_twin(params, amplitude_v=1.0, frequency_hz=[1.0, -1.0])
    with pytest.raises(ValueError, match="closed form is invalid"):
        closed_form_current(params, np.linspace(0.0, 2.5, 11), amplitude_v=1.0,
                            frequency_hz=0.4)


# --- metrics on a loop with a known result -------------------------------------------


def test_metrics_ellipse_area_and_crossings():
    # v = A sin(theta), i = I sin(theta + phase): each half period encloses
    # pi A I sin(phase) / 2, and |i| at v = 0 is I |sin(phase)|.
    amplitude, current, phase = 2.0, 3e-3, 0.3
    theta = np.linspace(0.0, 2.0 * np.pi, 20001)
    metrics = hysteresis_metrics(amplitude * np.sin(theta), current * np.sin(theta + phase))
    assert metrics.loop_area_w == pytest.approx(np.pi * amplitude * current * np.sin(phase),
                                                rel=1e-6)
    assert len(metrics.lobe_areas_w) == 2
    assert len(metrics.crossing_currents_a) == 3
    np.testing.assert_allclose(metrics.crossing_currents_a, current * np.sin(phase), rtol=1e-6)
    assert metrics.pinch_ratio > 0.29


def test_metrics_tensors_and_resistance():
    v = torch.linspace(-1.0, 1.0, 401, dtype=torch.float64)
    resistance = torch.where(v > 0, 200.0, 1000.0)
    metrics = hysteresis_metrics(v, v / resistance)
    assert metrics.r_min_ohm == pytest.approx(200.0)
    assert metrics.r_max_ohm == pytest.approx(1000.0)
    assert metrics.resistance_ratio == pytest.approx(5.0)
    assert metrics.pinch_ratio < 1e-12  # the sample at v = 0 carries i = 0


# --- closed form (no window) ----------------------------------------------------------


@pytest.mark.spice
@pytest.mark.parametrize("frequency_hz", FREQUENCIES_HZ)
def test_no_window_matches_closed_form(frequency_hz):
    params = MemristorParameters(window="none")
    twin = simulate_loop_twin(params, amplitude_v=AMPLITUDE_V, frequency_hz=frequency_hz,
                              w0=W0).to_trace()
    spice = _spice(params, frequency_hz)
    current, state = closed_form_current(params, twin.time_s, amplitude_v=AMPLITUDE_V,
                                         frequency_hz=frequency_hz, w0=W0)
    twin_error = np.linalg.norm(twin.i - current) / np.linalg.norm(current)
    assert twin_error < TWIN_CLOSED_FORM_TOLERANCE
    assert np.max(np.abs(twin.w - state)) < TWIN_CLOSED_FORM_TOLERANCE
    assert relative_l2(spice.time_s, spice.i, twin.time_s, current) < AGREEMENT_TOLERANCE
    assert relative_l2(spice.time_s, spice.w, twin.time_s, state) < AGREEMENT_TOLERANCE


# --- SPICE against the twin, with a window ------------------------------------------


@pytest.mark.spice
def test_spice_and_twin_agree(windowed):
    _, spice, twin = windowed
    for frequency_hz, s, t in zip(FREQUENCIES_HZ, spice, twin):
        assert relative_l2(s.time_s, s.i, t.time_s, t.i) < AGREEMENT_TOLERANCE, frequency_hz
        assert relative_l2(s.time_s, s.w, t.time_s, t.w) < AGREEMENT_TOLERANCE, frequency_hz
        assert relative_l2(s.time_s, s.v, t.time_s, t.v) < AGREEMENT_TOLERANCE, frequency_hz


@pytest.mark.spice
def test_agreement_catches_mobility_error(windowed):
    params, spice, _ = windowed
    wrong = dataclasses.replace(params, mobility_m2_per_vs=1.01 * params.mobility_m2_per_vs)
    twin = simulate_loop_twin(wrong, amplitude_v=AMPLITUDE_V, frequency_hz=FREQUENCIES_HZ, w0=W0)
    for row, s in enumerate(spice):
        t = twin.to_trace(row)
        assert relative_l2(s.time_s, s.i, t.time_s, t.i) > AGREEMENT_TOLERANCE


# --- loop properties ------------------------------------------------------------------


@pytest.mark.spice
def test_loop_is_pinched(windowed):
    _, spice, twin = windowed
    for trace in (*spice, *twin):
        metrics = hysteresis_metrics(trace.v, trace.i)
        # one crossing at each end and one in the middle of the period
        assert len(metrics.crossing_currents_a) == 3
        assert metrics.pinch_ratio < PINCH_TOLERANCE


@pytest.mark.spice
def test_loop_parallel_capacitor_opens_pinch():
    capacitance, frequency_hz = 1e-7, 1.0
    trace = _spice(MemristorParameters(), frequency_hz, parallel_capacitance_f=capacitance)
    metrics = hysteresis_metrics(trace.v, trace.i)
    expected = capacitance * AMPLITUDE_V * 2.0 * math.pi * frequency_hz  # C dv/dt at v = 0
    np.testing.assert_allclose(metrics.crossing_currents_a, expected, rtol=1e-3)
    assert metrics.pinch_ratio > PINCH_TOLERANCE


@pytest.mark.spice
def test_loop_area_shrinks_with_frequency(windowed):
    _, spice, twin = windowed
    for traces in (spice, twin):
        areas = [hysteresis_metrics(t.v, t.i).loop_area_w for t in traces]
        assert areas[0] > areas[1]
        assert areas[1] > areas[2]
        assert areas[2] > 0
        # 10x the frequency: measured ratio 0.020 (Biolek) and 0.021 (Joglekar)
        assert areas[2] < 0.1 * areas[0]
    for s, t in zip(spice, twin):
        spice_area = hysteresis_metrics(s.v, s.i).loop_area_w
        assert spice_area == pytest.approx(hysteresis_metrics(t.v, t.i).loop_area_w, rel=1e-4)


@pytest.mark.spice
def test_resistance_ratio_matches_state(windowed):
    params, spice, twin = windowed
    for trace in (*spice, *twin):
        resistance = params.resistance_ohm(trace.w)
        ratio = hysteresis_metrics(trace.v, trace.i).resistance_ratio
        assert ratio == pytest.approx(resistance.max() / resistance.min(), rel=1e-3)
    # At 0.5 Hz the device switches strongly (measured ratio 6.2 to 6.3).
    assert hysteresis_metrics(spice[0].v, spice[0].i).resistance_ratio > 5.0


@pytest.mark.spice
@pytest.mark.parametrize("window", ["biolek", "joglekar", "none"])
def test_state_bounded_only_with_window(window):
    params = MemristorParameters(window=window)
    spice = _spice(params, STRONG_FREQUENCY_HZ)
    twin = simulate_loop_twin(params, amplitude_v=AMPLITUDE_V, frequency_hz=STRONG_FREQUENCY_HZ,
                              w0=W0, steps_per_period=STRONG_TWIN_STEPS).to_trace()
    for trace in (spice, twin):
        if window == "none":
            # Without a window this drive pushes the state far above 1.
            assert trace.w.max() > 2.0
            continue
        assert trace.w.max() > 0.999  # the drive reaches the edge
        assert trace.w.min() >= -STATE_TOLERANCE
        assert trace.w.max() <= 1.0 + STATE_TOLERANCE
