"""The crossbar job: train a network, map it to crossbars, run ngspice and the twin.

Variants, each simulated by the twin on ``samples`` held-out digits:

- ``ideal``: exact conductances, no device effects;
- ``quantized``: conductances on the device's level set;
- ``nonideal``: quantized, with programming noise, stuck-at faults and wire resistance,
  and in the twin also the device's read noise.

ngspice runs ``ideal`` and ``quantized`` on the same samples, and ``nonideal`` on the
first ``wire_samples`` of them (wire resistance multiplies the node count). Accuracy,
per-sample agreement of predicted classes and throughput are recorded.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from npdehw.hw.crossbar import tile_mapping
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.models.digits import accuracy, load_digits_split, train_mlp
from npdehw.network_design import NetworkDesign
from npdehw.pipeline import SilentTracker, _Stages
from npdehw.sim.crossbar_run import run_crossbar_spice, run_crossbar_twin

__all__ = ["NETWORK_STAGES", "NetworkResult", "run_network_design"]

NETWORK_STAGES = ("train network", "map to crossbars", "run twin", "simulate in ngspice",
                  "compare", "export")


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


def _layers(module):
    first, last = module[0], module[2]
    activation = type(module[1]).__name__.lower()
    return [(first.weight.detach().numpy(), first.bias.detach().numpy(), activation),
            (last.weight.detach().numpy(), last.bias.detach().numpy(), "identity")]


def _train(design: NetworkDesign):
    settings = design.network
    x_train, x_test, y_train, y_test = load_digits_split(seed=settings.seed)
    module = train_mlp(x_train, y_train, hidden=settings.hidden,
                       activation=settings.activation, seed=settings.seed,
                       weight_limit=settings.weight_limit)
    return module, x_test[:settings.samples], y_test[:settings.samples], \
        accuracy(module, x_test, y_test)


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


def run_network_design(design: NetworkDesign, tracker=None, export=None) -> NetworkResult:
    """Run every stage of a crossbar network design."""
    stages = _Stages(tracker or SilentTracker(), NETWORK_STAGES)
    module, inputs, labels, float_accuracy = stages.run(NETWORK_STAGES[0], _train, design)
    networks = stages.run(NETWORK_STAGES[1], _map, design, _layers(module))
    twin = stages.run(NETWORK_STAGES[2], _twin, design, networks, inputs)
    spice = stages.run(NETWORK_STAGES[3], _spice, design, networks, inputs)
    metrics, predictions = stages.run(NETWORK_STAGES[4], _compare, labels, float_accuracy,
                                      twin, spice)
    metrics["tiles"] = {name: [len(tile_mapping(layer.mapping, design.max_rows,
                                                 design.max_cols)) for layer in net.layers]
                        for name, net in networks.items()}
    result = NetworkResult(design, networks, metrics, predictions, labels, inputs,
                           stages.timings)
    if export is not None:
        stages.run(NETWORK_STAGES[5], export, result)
    return result
