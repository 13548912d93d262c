"""A driven reservoir in ngspice and the twin: against an exact solution, and on NARMA-10."""

import numpy as np
import pytest
import scipy.linalg

from npdehw.hw.mapping import CircuitMapping
from npdehw.hw.reservoir_circuit import build_reservoir_circuit, drive_sources
from npdehw.models.expressions import parse
from npdehw.models.narma import narma_series
from npdehw.models.reservoir import ReservoirSpec
from npdehw.models.series_readout import SeriesSplit, delay_line, score_readout
from npdehw.sim.compare import error_metrics
from npdehw.sim.reservoir_run import run_reservoir_spice, run_reservoir_twin

pytestmark = pytest.mark.spice

MAPPING = CircuitMapping(time_scale_s=1e-6, voltage_scale_v=0.5, capacitance_f=1e-10)
LINEAR = ReservoirSpec(shape=(4,), diffusion=0.3, advection=2.0, decay=0.1,
                       input_nodes=((0,), (2,)), input_weights=(1.5, -0.8))
SAMPLE_TIME = 0.7


def exact_linear_states(drive, steps_per_sample):
    """Return the linear reservoir's states (model units) at the end of each hold.

    The rates are written out from the reservoir equation, independently of the circuit:
    dx/dt = D L x + c (x[i-1] - x[i]) - gamma x + w_i (s_i d(t) - x_i). Each hold starts
    with a linear ramp over one step from the previous drive, then stays constant. Both
    parts are exact through the matrix exponential of the system augmented with d and
    its slope.
    """
    n = 4
    laplacian = np.diag([-1.0, -2.0, -2.0, -1.0]) + np.diag([1.0] * 3, 1) + np.diag([1.0] * 3, -1)
    advection = np.zeros((n, n))
    for i in range(1, n):
        advection[i, i - 1], advection[i, i] = 2.0, -2.0
    rates = 0.3 * laplacian + advection - 0.1 * np.eye(n) - np.diag([1.5, 0.0, 0.8, 0.0])
    coupling = np.array([1.5, 0.0, -0.8, 0.0])
    augmented = np.zeros((n + 2, n + 2))
    augmented[:n, :n] = rates
    augmented[:n, n] = coupling
    augmented[n, n + 1] = 1.0
    edge = SAMPLE_TIME / steps_per_sample
    ramp = scipy.linalg.expm(augmented * edge)
    hold = scipy.linalg.expm(augmented * (SAMPLE_TIME - edge))
    state, previous, rows = np.zeros(n), drive[0], []
    for value in drive:
        z = ramp @ np.concatenate([state, [previous, (value - previous) / edge]])
        z = hold @ np.concatenate([z[:n], [value, 0.0]])
        state, previous = z[:n], value
        rows.append(state)
    return np.array(rows)


@pytest.fixture(scope="module")
def linear_run():
    """The linear reservoir driven by 30 seeded samples: graph, exact states and runs.

    Runs maps ``(simulator, steps_per_sample)`` to sampled states; ``exact`` maps
    ``steps_per_sample`` to the exact states for that drive ramp, in volts.
    """
    drive = np.random.default_rng(5).uniform(-1.0, 1.0, 30)
    graph = build_reservoir_circuit(LINEAR, MAPPING, 30 * SAMPLE_TIME)
    volts = MAPPING.voltage_scale_v * drive
    sample_s = MAPPING.to_seconds(SAMPLE_TIME)
    runs, exact = {}, {}
    for steps in (20, 40):
        exact[steps] = exact_linear_states(drive, steps) * MAPPING.voltage_scale_v
        runs["twin", steps] = run_reservoir_twin(graph, volts, sample_s, steps).states_v
    runs["ngspice", 20] = run_reservoir_spice(graph, volts, sample_s, 20).states_v
    return graph, exact, runs


def test_inverted_drive_for_negative_weight(linear_run):
    """A negative input weight adds the inverted drive source, with its own sign."""
    graph = linear_run[0]
    assert sorted(drive_sources(graph).values()) == [-1.0, 1.0]


def test_linear_reservoir_ngspice_matches_exact(linear_run):
    """ngspice's sampled states equal the matrix-exponential solution.

    ngspice's largest step is the twin's step here, 1/20 of a sample. Its trapezoidal
    truncation error measured 1.2e-4 there and 2e-6 with a tenth of that step, so the
    bound checks the circuit and the drive rather than the solver.
    """
    _, exact, runs = linear_run
    assert error_metrics(runs["ngspice", 20], exact[20])["relative_l2"] < 3e-4


def test_linear_reservoir_twin_is_second_order(linear_run):
    """The twin matches the exact solution, and doubling its steps quarters the error.

    Second order needs the drive blended as theta b(t_k+1) + (1 - theta) b(t_k). Using
    either end alone would make the scheme first order in the drive.
    """
    _, exact, runs = linear_run
    coarse = error_metrics(runs["twin", 20], exact[20])["relative_l2"]
    fine = error_metrics(runs["twin", 40], exact[40])["relative_l2"]
    assert coarse < 5e-4
    assert 3.5 < coarse / fine < 4.5


@pytest.fixture(scope="module")
def narma_run():
    """A 20-node nonlinear reservoir on 800 NARMA-10 samples, in ngspice and the twin."""
    spec = ReservoirSpec(shape=(20,), diffusion=0.01, advection=3.0, decay=0.06,
                         reaction=parse("tanh(u) - u"), input_nodes=((0,), (5,), (10,), (15,)),
                         input_weights=(1.2, 1.0, 0.8, 0.6))
    split = SeriesSplit(washout=50, train=500, test=250)
    inputs, targets = narma_series(split.total, 10, seed=2)
    graph = build_reservoir_circuit(spec, MAPPING, split.total * SAMPLE_TIME)
    volts = MAPPING.voltage_scale_v * spec.drive(inputs)
    sample_s = MAPPING.to_seconds(SAMPLE_TIME)
    spice = run_reservoir_spice(graph, volts, sample_s, 10)
    twin = run_reservoir_twin(graph, volts, sample_s, 10)
    return inputs, targets, split, spice, twin


def test_reservoir_states_agree(narma_run):
    """Twin and ngspice states of the nonlinear reservoir agree sample by sample."""
    *_, spice, twin = narma_run
    assert error_metrics(twin.states_v, spice.states_v)["relative_l2"] < 1e-3


def test_reservoir_beats_delay_line(narma_run):
    """The reservoir's readout beats a readout on the last 10 inputs, by a clear margin."""
    inputs, targets, split, spice, _ = narma_run
    _, reservoir, _ = score_readout(spice.states_v, targets, split, ridge=1e-6)
    _, baseline, _ = score_readout(delay_line(inputs, 10), targets, split, ridge=1e-6)
    assert reservoir < 0.8 * baseline
    assert reservoir < 0.35


def test_twin_readout_works_on_ngspice(narma_run):
    """A readout fitted on twin states scores on ngspice states within 10 % of ngspice's own."""
    _, targets, split, spice, twin = narma_run
    _, own, _ = score_readout(spice.states_v, targets, split, ridge=1e-6)
    _, transferred, _ = score_readout(twin.states_v, targets, split, ridge=1e-6,
                                      test_features=spice.states_v)
    assert transferred < 1.1 * own
