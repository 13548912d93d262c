"""Crossbar Hopfield recall: ngspice against the twin, and against the stored patterns."""

import numpy as np
import pytest

from npdehw.hw.devices import DeviceSpec
from npdehw.hw.hopfield import build_hopfield_circuit, hebbian_weights
from npdehw.sim.hopfield_run import crossbar_response, run_hopfield_spice, run_hopfield_twin


@pytest.fixture(scope="module")
def stored():
    """Three random 36-bit patterns and their 16-level crossbar circuit."""
    rng = np.random.default_rng(1)
    patterns = rng.choice([-1.0, 1.0], size=(3, 36))
    circuit = build_hopfield_circuit(hebbian_weights(patterns), DeviceSpec(levels=16),
                                     gain=4.0, initial=np.zeros(36))
    return patterns, circuit


def test_hebbian_weights_store_patterns(stored):
    """Each stored pattern is a fixed point of sign(W p)."""
    patterns, _ = stored
    weight = hebbian_weights(patterns)
    assert np.all(np.diag(weight) == 0)
    for pattern in patterns:
        assert np.array_equal(np.sign(weight @ pattern), pattern)


def test_crossbar_response_is_quantized_hebbian(stored):
    """The crossbar's measured response is the Hebbian matrix to within the level step."""
    patterns, circuit = stored
    matrix, offset = crossbar_response(circuit)
    weight = hebbian_weights(patterns)
    step = np.abs(weight).max() / 15
    assert np.max(np.abs(matrix - weight)) <= 0.5 * step + 1e-9
    assert np.max(np.abs(offset)) < 1e-9


@pytest.mark.parametrize("pattern", [0, 1, 2])
def test_recall_from_twenty_percent_flips(stored, pattern):
    """From 20 % flipped bits both simulators settle on the stored pattern, together."""
    patterns, circuit = stored
    rng = np.random.default_rng(10 + pattern)
    start = patterns[pattern].copy()
    start[rng.choice(36, size=7, replace=False)] *= -1
    spice = run_hopfield_spice(circuit, start, 10.0)
    twin = run_hopfield_twin(circuit, start, 10.0)
    assert np.array_equal(np.sign(spice[-1]), patterns[pattern])
    assert np.array_equal(np.sign(twin[-1]), np.sign(spice[-1]))
    assert np.max(np.abs(twin - spice)) < 1e-3
    assert np.min(np.abs(spice[-1])) > 0.5


def test_hopfield_design_runs(tmp_path):
    """The bundled design, one trial per pattern, writes a report with full recall."""
    import dataclasses

    from npdehw.design import load_design
    from npdehw.hopfield_job import export_hopfield_run, run_hopfield_design

    design = dataclasses.replace(load_design("hopfield_patterns"), trials=1)
    record = run_hopfield_design(design)
    assert record["same_state_share"] == 1.0
    assert record["spice_recall_share"] == 1.0
    export_hopfield_run(design, record, tmp_path / "run")
    assert "100 % of trials" in (tmp_path / "run" / "report.md").read_text()
    # 36 neuron rows and the bias row, 72 columns (a differential pair per neuron), a header.
    assert (tmp_path / "run" / "programming_table.csv").read_text().count("\n") == 37 * 72 + 1
