"""Physics-aware training: ngspice runs the forward pass, the twin supplies the gradient.

The hardware here is the crossbar network as ngspice simulates it with a column sense
resistance (``npdehw.hw.crossbar_sense``), an effect the twin leaves out. Each step
builds the network from the current weights, runs the batch through ngspice and reads
every layer's pre-activations. ``CrossbarMLP`` then replaces its own pre-activations
by ngspice's, layer by layer, with ``z_twin + (z_spice - z_twin).detach()``: the loss
is that of the circuit, and backpropagation takes the twin's Jacobians at the
activations ngspice produced. Conductances are on the device's levels (straight-through
estimator) and carry no programming noise, so ngspice and the twin see the same devices.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from npdehw.hw.crossbar_sense import with_sense_resistance
from npdehw.models.qat import CrossbarMLP, one_thread
from npdehw.models.training import History, epoch_order, fit
from npdehw.network_qat import crossbar_for, quantizer_for
from npdehw.sim.batch import read_samples, sample_times
from npdehw.sim.crossbar_run import EDGE_S, HOLD_S, crossbar_netlist, run_crossbar_twin
from npdehw.sim.ngspice import run_netlist

__all__ = ["hardware_network", "measure_physics_aware", "spice_pre_activations",
           "train_physics_aware"]


def hardware_network(design, layers, sense_ohm: float | None):
    """Return ``layers`` on the device's levels, without programming noise.

    With ``sense_ohm`` the network carries the sense resistance, for ngspice only.
    """
    network = crossbar_for(design, layers)
    return network if sense_ohm is None else with_sense_resistance(network, sense_ohm)


def spice_pre_activations(network, inputs: np.ndarray, title: str) -> list[np.ndarray]:
    """Return every layer's pre-activations in ngspice, each ``(n_samples, n_out)``.

    NOTE: each ngspice 39 run (Debian 12) sets the OpenMP thread count, which torch
    shares, to ngspice's ``num_threads`` option (2 unless set), so torch reports 2
    threads afterwards. The count is restored, for the reason ``one_thread`` gives.
    """
    inputs = np.asarray(inputs, dtype=float)
    threads = torch.get_num_threads()
    try:
        result = run_netlist(crossbar_netlist(network, inputs, title))
    finally:
        torch.set_num_threads(threads)
    times = sample_times(len(inputs), HOLD_S, EDGE_S)
    return [read_samples(result, layer.z_nets, times) for layer in network.layers]


def train_physics_aware(design, layers, settings, inputs: np.ndarray, labels: np.ndarray,
                        *, checkpoint=None, fingerprint: str = "", progress: bool = False,
                        on_epoch: Callable[[int], None] | None = None
                        ) -> tuple[list, History]:
    """Fine-tune ``layers`` with ngspice in the forward pass (see the module docstring).

    Each epoch trains on ``settings.samples_per_epoch`` training samples drawn with
    a generator seeded by ``(seed, epoch)``, in batches of ``settings.spec``; every
    batch is one ngspice run. ``on_epoch`` is called with each 0-based epoch before
    it trains, as in ``npdehw.network_qat.train_qat``.

    Returns:
        The trained layers and the training history.
    """
    spec = settings.spec
    model = CrossbarMLP(layers, quantizer_for(design.device))
    x = torch.as_tensor(np.asarray(inputs, dtype=float))
    y = torch.as_tensor(np.asarray(labels)).long()

    def batch_loss(batch):
        hardware = hardware_network(design, model.layers(), settings.sense_ohm)
        measured = spice_pre_activations(hardware, x[batch].numpy(), design.name)
        return torch.nn.functional.cross_entropy(model(x[batch], measured=measured),
                                                 y[batch])

    def batches(epoch):
        if on_epoch is not None:
            on_epoch(epoch)
        generator = torch.Generator().manual_seed(spec.seed * 100_003 + epoch)
        subset = torch.randperm(len(x), generator=generator)[:settings.samples_per_epoch]
        for order in epoch_order(len(subset), spec, epoch):
            yield lambda batch=subset[order]: batch_loss(batch)

    with one_thread():
        history = fit(model, batches, spec, checkpoint=checkpoint, fingerprint=fingerprint,
                      label="physics-aware training", progress=progress)
    return model.layers(), history


def measure_physics_aware(design, start, trained, sense_ohm: float, inputs: np.ndarray,
                          labels: np.ndarray) -> dict:
    """Return the accuracies that show what physics-aware training recovered.

    ``start`` is the network trained on the twin alone and ``trained`` the network
    after physics-aware training (layers each). ``gap_closed`` is the share of the
    twin's accuracy lost in ngspice that training won back.
    """
    def accuracy(outputs):
        return float(np.mean(np.asarray(outputs).argmax(axis=1) == labels))

    twin = accuracy(run_crossbar_twin(hardware_network(design, start, None), inputs)[0])
    twin_trained = accuracy(run_crossbar_twin(hardware_network(design, trained, None),
                                              inputs)[0])
    before = accuracy(spice_pre_activations(hardware_network(design, start, sense_ohm),
                                            inputs, design.name)[-1])
    after = accuracy(spice_pre_activations(hardware_network(design, trained, sense_ohm),
                                           inputs, design.name)[-1])
    gap = twin - before
    return {"sense_ohm": sense_ohm, "levels": design.device.levels, "samples": len(labels),
            "twin_accuracy": twin, "spice_accuracy_before": before,
            "spice_accuracy_after": after, "twin_accuracy_after": twin_trained,
            "gap_closed": (after - before) / gap if gap > 0 else None}
