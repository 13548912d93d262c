"""Physics-aware training: the column sense resistance in ngspice, and training through it."""

import dataclasses

import numpy as np
import pytest
import torch

from npdehw.design import load_design
from npdehw.hw.crossbar_circuit import Readout
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.hw.crossbar_sense import with_sense_resistance
from npdehw.hw.devices import DeviceSpec
from npdehw.models.digits import load_digits_split, train_mlp
from npdehw.models.qat import ConductanceQuantizer, CrossbarMLP
from npdehw.models.training import TrainSpec
from npdehw.network_pipeline import network_layers
from npdehw.network_training_design import PhysicsAwareSettings
from npdehw.physics_aware import (
    measure_physics_aware,
    spice_pre_activations,
    train_physics_aware,
)
from npdehw.sim.crossbar_run import run_crossbar_twin

READ_V = 0.2


def column_law(conductance_s, voltages_v, sense_ohm):
    """Column currents of a crossbar whose columns reach ground through ``sense_ohm``.

    Kirchhoff's current law at column j, which sits at ``R I_j``:
    ``I_j = sum_i G_ij (V_i - R I_j)``, so ``I_j = sum_i G_ij V_i / (1 + R sum_i G_ij)``.
    """
    return voltages_v @ conductance_s / (1 + sense_ohm * conductance_s.sum(axis=0))


@pytest.mark.spice
@pytest.mark.parametrize("readout", ["ideal", "tia"])
def test_sense_resistance_follows_column_law(rng, readout):
    """ngspice's outputs with a 4.7 kOhm sense resistance follow Kirchhoff's column law."""
    weight, bias = rng.normal(size=(3, 5)), rng.normal(size=3)
    network = build_crossbar_network([(weight, bias, "identity")], DeviceSpec(),
                                     quantize=False, seed=None, read_v=READ_V,
                                     readout=Readout(kind=readout))
    x = rng.uniform(0, 1, size=(6, 5))
    spice = spice_pre_activations(with_sense_resistance(network, 4.7e3), x, "sense")[-1]
    layer = network.layers[0]
    voltages = READ_V * np.hstack([x, np.ones((len(x), 1))])
    currents = column_law(layer.conductance_s, voltages, 4.7e3)
    mapping = layer.mapping
    expected = (currents[:, mapping.plus_columns] - currents[:, mapping.minus_columns]) \
        / (mapping.scale_s_per_weight * READ_V)
    tolerance = 1e-9 if readout == "ideal" else 1e-3  # the TIA's op-amp gain is 1e5
    np.testing.assert_allclose(spice, expected, atol=tolerance * np.abs(expected).max())
    ideal = run_crossbar_twin(network, x)[0]
    assert np.abs(ideal - spice).max() > 0.05 * np.abs(ideal).max()


def test_measured_values_carry_forward_twin_gradient():
    """Measured pre-activations set the output, and the gradient is the twin's at them."""
    generator = torch.Generator().manual_seed(3)
    layers = [(torch.randn(4, 6, generator=generator).numpy(), np.zeros(4), "tanh"),
              (torch.randn(2, 4, generator=generator).numpy(), np.zeros(2), "identity")]
    model = CrossbarMLP(layers, ConductanceQuantizer(1e-6, 1e-4))
    x = torch.rand(5, 6, generator=generator, dtype=torch.float64)
    measured = [torch.randn(5, 4, generator=generator, dtype=torch.float64),
                torch.randn(5, 2, generator=generator, dtype=torch.float64)]
    output = model(x, measured=measured)
    torch.testing.assert_close(output, measured[1])
    output.sum().backward()
    hidden = torch.cat([torch.tanh(measured[0]), torch.ones(5, 1, dtype=torch.float64)], 1)
    expected = torch.ones(5, 2, dtype=torch.float64).T @ hidden
    torch.testing.assert_close(model.matrices[1].grad, expected)


@pytest.fixture(scope="module")
def small_design():
    """The bundled design on an 8-unit hidden layer."""
    design = load_design("mlp_digits")
    return dataclasses.replace(design, network=dataclasses.replace(design.network,
                                                                   hidden=8))


@pytest.mark.spice
def test_physics_aware_closes_half_the_gap(small_design):
    """Training with ngspice in the loop wins back half the accuracy the twin loses."""
    x_train, x_test, y_train, y_test = load_digits_split(seed=0)
    layers = network_layers(train_mlp(x_train, y_train, hidden=8, seed=0, weight_limit=1.0))
    settings = PhysicsAwareSettings(
        sense_ohm=4e3, samples_per_epoch=160,
        spec=TrainSpec(optimizer="adam", learning_rate=0.03, epochs=10, batch_size=16))
    trained, history = train_physics_aware(small_design, layers, settings, x_train, y_train)
    record = measure_physics_aware(small_design, layers, trained, 4e3, x_test[:150],
                                   y_test[:150])
    print(record)
    assert record["twin_accuracy"] - record["spice_accuracy_before"] >= 0.03
    assert record["gap_closed"] >= 0.5
    assert history.loss[-1] < history.loss[0]
