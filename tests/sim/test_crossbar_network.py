"""A small crossbar network: ngspice against the DC twin and against numpy's forward pass."""

import re

import numpy as np
import pytest

from npdehw.hw.crossbar_circuit import Readout
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.hw.devices import DeviceSpec
from npdehw.sim.crossbar_run import crossbar_netlist, run_crossbar_spice, run_crossbar_twin


@pytest.fixture
def layers(rng):
    """A 12-9-4 network with tanh hidden units, split over 8 x 8 tiles."""
    w1, b1 = rng.normal(size=(9, 12)) * 0.5, rng.normal(size=9) * 0.2
    w2, b2 = rng.normal(size=(4, 9)) * 0.5, rng.normal(size=4) * 0.2
    return [(w1, b1, "tanh"), (w2, b2, "identity")]


def forward(layers, x):
    (w1, b1, _), (w2, b2, _) = layers
    return np.tanh(x @ w1.T + b1) @ w2.T + b2


@pytest.mark.parametrize("readout", ["ideal", "tia"])
def test_unquantized_network_computes_forward_pass(rng, layers, readout):
    """Without quantization ngspice reproduces the network's output within 1e-4."""
    network = build_crossbar_network(layers, DeviceSpec(), quantize=False, seed=None,
                                     readout=Readout(kind=readout), max_rows=8, max_cols=8)
    x = rng.uniform(0, 1, size=(7, 12))
    spice, _ = run_crossbar_spice(network, x)
    twin, _ = run_crossbar_twin(network, x)
    tolerance = 1e-9 if readout == "ideal" else 1e-4
    np.testing.assert_allclose(spice, forward(layers, x), atol=tolerance)
    np.testing.assert_allclose(twin, spice, atol=1e-9)


def test_wire_resistance_twin_matches_spice(rng, layers):
    """With wire resistance and programming noise, the twin follows ngspice within 1e-6."""
    device = DeviceSpec(levels=16, programming_noise=0.05, stuck_min_rate=0.02)
    network = build_crossbar_network(layers, device, seed=4, wire_ohm=5.0, max_rows=8,
                                     max_cols=8)
    x = rng.uniform(0, 1, size=(3, 12))
    spice, _ = run_crossbar_spice(network, x)
    twin, _ = run_crossbar_twin(network, x)
    assert np.max(np.abs(twin - spice)) < 1e-6 * np.max(np.abs(spice))
    assert np.max(np.abs(spice - forward(layers, x))) > 1e-3


def test_netlist_distinct_conductances_within_levels(rng, layers):
    """The quantized netlist contains at most `levels` distinct device conductances."""
    network = build_crossbar_network(layers, DeviceSpec(levels=4), seed=None, max_rows=8,
                                     max_cols=8)
    text = crossbar_netlist(network, rng.uniform(0, 1, size=(2, 12)), "xbar")
    graph = network.graph
    devices = {key for _, _, key, term in graph.edges(keys=True, data="term")
               if term == "crossbar_device"}
    values = {float(line.split()[3]) for line in text.splitlines()
              if line.split()[0] in devices}
    assert len(devices) > 100
    assert 1 < len(values) <= 4
    assert all(re.match(r"^[0-9.e+-]+$", f"{v!r}") for v in values)


def test_read_noise_spread_matches_device_model(rng, layers):
    """Twin read noise on a one-layer network has the standard deviation the model gives."""
    w1, b1, _ = layers[0]
    device = DeviceSpec(read_noise=0.05)
    network = build_crossbar_network([(w1, b1, "identity")], device, quantize=False,
                                     seed=None)
    x = np.tile(rng.uniform(0, 1, size=(1, 12)), (4000, 1))
    clean, _ = run_crossbar_twin(network, x)
    noisy, _ = run_crossbar_twin(network, x, read_noise_seed=5)
    layer = network.layers[0]
    voltages = np.append(0.2 * x[0], 0.2)
    spread_current = 0.05 * np.sqrt((voltages**2) @ (layer.conductance_s**2))
    mapping = layer.mapping
    expected = np.sqrt(spread_current[mapping.plus_columns] ** 2
                       + spread_current[mapping.minus_columns] ** 2) * abs(layer.factor)
    measured = (noisy - clean).std(axis=0)
    np.testing.assert_allclose(measured, expected, rtol=0.1)
    assert np.array_equal(run_crossbar_twin(network, x[:5])[0], clean[:5])
