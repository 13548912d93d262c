"""The crossbar job: train a network, map it to crossbars, run ngspice and the twin.

Variants, each simulated by the twin on ``samples`` held-out digits:

- ``ideal``: exact conductances, no device effects;
- ``quantized``: conductances on the device's level set;
- ``nonideal``: quantized, with programming noise, stuck-at faults and wire resistance,
  and in the twin also the device's read noise.

ngspice runs ``ideal`` and ``quantized`` on the same samples, and ``nonideal`` on the
first ``wire_samples`` of them (wire resistance multiplies the node count). Accuracy,
per-sample agreement of predicted classes and throughput are recorded.

With ``[training.qat]`` the run compares post-training quantization with
quantization-aware training (``npdehw.network_qat``), and with
``[training.physics_aware]`` it fine-tunes the network with ngspice in the forward pass
(``npdehw.physics_aware``). Given a ``TrainingSetup``, every training stage writes a
checkpoint after each epoch and resumes from it.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from npdehw.hw.crossbar import tile_mapping
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.models.digits import accuracy, fit_mlp, load_digits_split
from npdehw.network_design import NetworkDesign
from npdehw.network_qat import compare_quantization, train_qat
from npdehw.physics_aware import measure_physics_aware, train_physics_aware
from npdehw.stages import SilentTracker, Stages
from npdehw.sim.crossbar_run import run_crossbar_spice, run_crossbar_twin

__all__ = ["NETWORK_STAGES", "NetworkResult", "run_network_design"]

NETWORK_STAGES = ("train network", "map to crossbars", "run twin", "simulate in ngspice",
                  "compare", "quantization-aware training", "physics-aware training",
                  "export")


@dataclasses.dataclass
class NetworkResult:
    """Everything a crossbar run produced."""

    design: NetworkDesign
    networks: dict
    metrics: dict
    predictions: dict
    labels: np.ndarray
    netlist_inputs: np.ndarray
    timings_s: dict
    trained: dict = dataclasses.field(default_factory=dict)
    histories: dict = dataclasses.field(default_factory=dict)


def network_layers(module):
    first, last = module[0], module[2]
    activation = type(module[1]).__name__.lower()
    return [(first.weight.detach().numpy(), first.bias.detach().numpy(), activation),
            (last.weight.detach().numpy(), last.bias.detach().numpy(), "identity")]


def _new_line(progress: bool) -> None:
    """End the stage tracker's line, so progress bars and resume notes start on their own."""
    if progress:
        print(file=sys.stderr, flush=True)


def _checkpoint(setup, stage: str) -> dict:
    """Return the ``checkpoint`` and ``fingerprint`` arguments of one training stage."""
    if setup is None:
        return {"checkpoint": None, "fingerprint": ""}
    return {"checkpoint": setup.checkpoint(stage), "fingerprint": setup.fingerprint}


def _train(design: NetworkDesign, setup, progress):
    _new_line(progress)
    settings = design.network
    x_train, x_test, y_train, y_test = load_digits_split(seed=settings.seed)
    module, history = fit_mlp(
        x_train, y_train, design.training.spec, hidden=settings.hidden,
        activation=settings.activation, weight_decay=design.training.weight_decay,
        weight_limit=settings.weight_limit, progress=progress, **_checkpoint(setup, "float"))
    return module, history, (x_train, y_train), x_test[:settings.samples], \
        y_test[:settings.samples], accuracy(module, x_test, y_test)


def _quantization_aware(design, layers, train_set, inputs, labels, setup, progress):
    _new_line(progress)
    qat = design.training.qat
    trained, histories = {}, {}
    for levels in qat.levels:
        trained[("ptq", levels)] = layers
        trained[("qat", levels)], histories[f"qat_{levels}"] = train_qat(
            layers, design.device, levels, qat.spec, qat.noise, *train_set,
            progress=progress, **_checkpoint(setup, f"qat_{levels}"))
    metrics = {"injected_noise": qat.noise,
               "levels": compare_quantization(design, trained, inputs, labels)}
    return {f"qat_{levels}": trained[("qat", levels)] for levels in qat.levels}, \
        histories, metrics


def _physics_aware(design, layers, train_set, inputs, labels, setup, progress):
    _new_line(progress)
    settings = design.training.physics_aware
    trained, history = train_physics_aware(
        design, layers, settings, *train_set, progress=progress,
        **_checkpoint(setup, "physics_aware"))
    metrics = measure_physics_aware(design, layers, trained, settings.sense_ohm, inputs,
                                    labels)
    return trained, history, metrics


def _map(design: NetworkDesign, layers):
    common = dict(read_v=design.read_v, readout=design.readout, max_rows=design.max_rows,
                  max_cols=design.max_cols)
    return {
        "ideal": build_crossbar_network(layers, design.device, quantize=False, seed=None,
                                        **common),
        "quantized": build_crossbar_network(layers, design.device, quantize=True, seed=None,
                                            **common),
        "nonideal": build_crossbar_network(layers, design.device, quantize=True,
                                           seed=design.network.seed,
                                           wire_ohm=design.wire_ohm, **common),
    }


def _twin(design, networks, inputs):
    # Read noise (twin only) applies to the non-ideal variant, seeded like its faults.
    return {name: run_crossbar_twin(network, inputs,
                                    read_noise_seed=design.network.seed
                                    if name == "nonideal" else None)
            for name, network in networks.items()}


def _spice(design, networks, inputs):
    result = {}
    for name, network in networks.items():
        count = design.network.wire_samples if name == "nonideal" else len(inputs)
        if count:
            result[name] = run_crossbar_spice(network, inputs[:count], title=design.name)
    return result


def _compare(labels, float_accuracy, twin, spice):
    metrics = {"float_accuracy_full_test_set": float_accuracy, "variants": {}}
    predictions = {}
    for name, (outputs, seconds) in twin.items():
        predicted = outputs.argmax(axis=1)
        predictions[f"twin_{name}"] = predicted
        entry = {"twin_accuracy": float(np.mean(predicted == labels)),
                 "twin_samples": len(labels), "twin_seconds": seconds,
                 "twin_samples_per_second": len(labels) / seconds}
        if name in spice:
            outputs_spice, seconds_spice = spice[name]
            spice_predicted = outputs_spice.argmax(axis=1)
            count = len(spice_predicted)
            predictions[f"spice_{name}"] = spice_predicted
            entry.update({
                "spice_accuracy": float(np.mean(spice_predicted == labels[:count])),
                "spice_samples": count,
                "twin_accuracy_same_samples": float(np.mean(predicted[:count] ==
                                                            labels[:count])),
                "class_agreement": float(np.mean(spice_predicted == predicted[:count])),
                "max_output_difference": float(np.max(np.abs(outputs_spice -
                                                             outputs[:count]))),
                "spice_seconds": seconds_spice,
                "spice_samples_per_second": count / seconds_spice,
            })
        metrics["variants"][name] = entry
    return metrics, predictions


def _stage_names(design, export) -> tuple[str, ...]:
    skipped = {NETWORK_STAGES[5]: design.training.qat is None,
               NETWORK_STAGES[6]: design.training.physics_aware is None,
               NETWORK_STAGES[7]: export is None}
    return tuple(name for name in NETWORK_STAGES if not skipped.get(name))


def _history_record(history) -> dict:
    best_loss = history.monitored[history.best_epoch - 1]
    return {"epochs": len(history.loss), "best_epoch": history.best_epoch,
            "final_loss": history.loss[-1], "best_loss": best_loss,
            "stopped_early": history.stopped_early, "resumed_at": history.resumed_at,
            "seconds": history.seconds}


def run_network_design(design: NetworkDesign, tracker=None, export=None, *, setup=None,
                       progress: bool = False) -> NetworkResult:
    """Run every stage of a crossbar network design.

    Args:
        tracker: receives the start and end of each stage.
        export: called with the result as the last stage; None skips it.
        setup: a ``npdehw.training_setup.TrainingSetup`` whose checkpoints the training
            stages write and resume; None trains without checkpoints.
        progress: show a progress bar for each training run.
    """
    stages = Stages(tracker or SilentTracker(), len(_stage_names(design, export)))
    module, history, train_set, inputs, labels, float_accuracy = stages.run(
        NETWORK_STAGES[0], _train, design, setup, progress)
    layers = network_layers(module)
    networks = stages.run(NETWORK_STAGES[1], _map, design, layers)
    twin = stages.run(NETWORK_STAGES[2], _twin, design, networks, inputs)
    spice = stages.run(NETWORK_STAGES[3], _spice, design, networks, inputs)
    metrics, predictions = stages.run(NETWORK_STAGES[4], _compare, labels, float_accuracy,
                                      twin, spice)
    metrics["tiles"] = {name: [len(tile_mapping(layer.mapping, design.max_rows,
                                                 design.max_cols)) for layer in net.layers]
                        for name, net in networks.items()}
    trained, histories = {"float": layers}, {"float": history}
    if design.training.qat is not None:
        qat_layers, qat_histories, metrics["quantization"] = stages.run(
            NETWORK_STAGES[5], _quantization_aware, design, layers, train_set, inputs,
            labels, setup, progress)
        trained.update(qat_layers)
        histories.update(qat_histories)
    if design.training.physics_aware is not None:
        trained["physics_aware"], histories["physics_aware"], metrics["physics_aware"] = \
            stages.run(NETWORK_STAGES[6], _physics_aware, design, layers, train_set, inputs,
                       labels, setup, progress)
    metrics["training"] = {name: _history_record(h) for name, h in histories.items()}
    result = NetworkResult(design, networks, metrics, predictions, labels, inputs,
                           stages.timings, trained, histories)
    if export is not None:
        stages.run(NETWORK_STAGES[7], export, result)
    return result
