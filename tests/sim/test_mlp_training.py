"""Training options of crossbar network designs: PTQ against QAT, checkpoints, parsing."""

import numpy as np
import pytest
import torch

from npdehw.design import load_design
from npdehw.errors import DesignError, SpecError
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.hw.devices import DeviceSpec
from npdehw.models.digits import load_digits_split, train_mlp
from npdehw.models.qat import CrossbarMLP
from npdehw.models.training import TrainSpec
from npdehw.network_pipeline import network_layers, run_network_design
from npdehw.network_qat import compare_quantization, quantizer_for, train_qat
from npdehw.sim.crossbar_run import run_crossbar_twin
from npdehw.training_setup import TrainingSetup

SMALL_DESIGN = """
name = "small_training"
description = "a 64-8-10 MLP with short training runs"

[network]
kind = "digits_mlp"
hidden = 8
samples = 40
wire_samples = 0

[crossbar]
levels = 16
programming_noise = 0.02

[training]
epochs = 6

[training.qat]
levels = [4]
epochs = 3
"""


@pytest.fixture(scope="module")
def split():
    """The default digits split."""
    return load_digits_split(seed=0)


def test_torch_twin_matches_dc_twin(rng):
    """The torch crossbar model computes what the DC twin solves, on 4 levels and tiles."""
    layers = [(rng.normal(size=(9, 12)), rng.normal(size=9), "tanh"),
              (rng.normal(size=(4, 9)), rng.normal(size=4), "identity")]
    device = DeviceSpec(levels=4)
    network = build_crossbar_network(layers, device, seed=None, max_rows=8, max_cols=8)
    x = rng.uniform(0, 1, size=(7, 12))
    expected = run_crossbar_twin(network, x)[0]
    model = CrossbarMLP(layers, quantizer_for(device))
    with torch.no_grad():
        computed = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(computed, expected, atol=1e-9)


@pytest.mark.spice
def test_qat_beats_ptq_at_four_levels(split):
    """At 4 levels, the QAT network classifies more held-out digits in ngspice than PTQ."""
    x_train, x_test, y_train, y_test = split
    layers = network_layers(train_mlp(x_train, y_train, hidden=8, seed=3, weight_limit=None))
    design = load_design("mlp_digits")
    spec = TrainSpec(optimizer="adam", learning_rate=0.003, epochs=10, batch_size=64, seed=3)
    trained, _ = train_qat(layers, design.device, 4, spec, 0.02, x_train, y_train)
    metrics = compare_quantization(design, {("ptq", 4): layers, ("qat", 4): trained},
                                   x_test[:300], y_test[:300], variants=("quantized",))
    ptq, qat = metrics["4"]["ptq"]["quantized"], metrics["4"]["qat"]["quantized"]
    print(f"ngspice: PTQ {ptq['spice_accuracy']:.4f}, QAT {qat['spice_accuracy']:.4f}")
    assert qat["spice_accuracy"] - ptq["spice_accuracy"] >= 0.02
    assert ptq["class_agreement"] >= 0.99
    assert qat["class_agreement"] >= 0.99


def test_interrupted_qat_resumes_to_same_weights(split, tmp_path):
    """QAT stopped after two epochs resumes from its checkpoint to the uninterrupted result."""
    x_train, _, y_train, _ = split
    layers = network_layers(train_mlp(x_train, y_train, hidden=8, epochs=5, seed=1))
    device = DeviceSpec(levels=4)
    spec = TrainSpec(optimizer="adam", learning_rate=0.003, epochs=5, batch_size=128, seed=2)
    reference, reference_history = train_qat(layers, device, 4, spec, 0.05, x_train,
                                             y_train)

    def stop(epoch):
        if epoch == 2:
            raise KeyboardInterrupt

    checkpoint = tmp_path / "qat_4.pt"
    with pytest.raises(KeyboardInterrupt):
        train_qat(layers, device, 4, spec, 0.05, x_train, y_train, checkpoint=checkpoint,
                  on_epoch=stop)
    assert checkpoint.exists()
    resumed, history = train_qat(layers, device, 4, spec, 0.05, x_train, y_train,
                                 checkpoint=checkpoint)
    assert history.resumed_at == 2
    assert history.loss == reference_history.loss
    for (weight, bias, _), (expected_weight, expected_bias, _) in zip(resumed, reference):
        np.testing.assert_array_equal(weight, expected_weight)
        np.testing.assert_array_equal(bias, expected_bias)


@pytest.mark.spice
def test_pipeline_resumes_finished_stages(tmp_path):
    """A second run with the same checkpoints resumes each stage and repeats the result."""
    source = tmp_path / "small_training.toml"
    source.write_text(SMALL_DESIGN)
    design = load_design(source)
    setup = TrainingSetup(tmp_path / "run", source)
    first = run_network_design(design, setup=setup)
    assert setup.checkpoint("float").exists()
    assert setup.checkpoint("qat_4").exists()
    second = run_network_design(design, setup=setup)
    assert second.metrics["training"]["float"]["resumed_at"] == 6
    assert second.metrics["training"]["qat_4"]["resumed_at"] == 3
    for name in ("float", "qat_4"):
        for (weight, bias, _), (expected_weight, expected_bias, _) in zip(
                second.trained[name], first.trained[name]):
            np.testing.assert_array_equal(weight, expected_weight)
            np.testing.assert_array_equal(bias, expected_bias)
    first_qat, second_qat = (result.metrics["quantization"]["levels"]["4"]["qat"]
                             for result in (first, second))
    assert second_qat["quantized"]["spice_accuracy"] == first_qat["quantized"]["spice_accuracy"]
    fresh = TrainingSetup(tmp_path / "run", source, fresh=True)
    assert not fresh.checkpoint("float").exists()


@pytest.mark.parametrize("text, key", [
    ("[training.qat]\nlevels = [1]", "training.qat.levels"),
    ("[training.physics_aware]\nsense_ohm = -5.0", "training.physics_aware.sense_ohm"),
    ("[training.physics_aware]\nlearning_rate = 0.1", "training.physics_aware.sense_ohm"),
    ("[training]\nweight_decy = 0.1", "training.weight_decy"),
])
def test_bad_training_key_named(tmp_path, text, key):
    """Invalid training settings raise an error that names the file and the dotted key."""
    head = SMALL_DESIGN.split("[training]")[0]
    source = tmp_path / "bad.toml"
    source.write_text(head + text + "\n")
    with pytest.raises(DesignError) as error:
        load_design(source)
    assert isinstance(error.value.__cause__, SpecError)
    assert error.value.__cause__.key == key
    assert str(source) in str(error.value)


def test_design_training_defaults():
    """The bundled design compares PTQ and QAT at 16 and 4 levels and trains in ngspice."""
    design = load_design("mlp_digits")
    assert design.training.qat.levels == (16, 4)
    assert design.training.qat.noise == design.device.programming_noise
    assert design.training.physics_aware.sense_ohm == 5e3
