"""Post-training quantization against quantization-aware training on crossbar levels.

PTQ maps the float network onto the device and rounds every conductance to the
nearest level. QAT starts from the same float weights and fine-tunes them through
``npdehw.models.qat.CrossbarMLP``: the forward pass rounds the conductances to the
levels (straight-through estimator) and multiplies them by ``1 + noise N(0, 1)``, the
programming noise, drawn afresh for every batch. Both are then mapped with
``build_crossbar_network`` and measured in the twin and in ngspice on the held-out
samples, on two hardware variants:

- ``quantized``: conductances on the level set;
- ``programmed``: also with the device's programming noise and stuck-at faults,
  drawn with the network seed (the same draw for PTQ and QAT).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.hw.devices import DeviceSpec
from npdehw.models.qat import ConductanceQuantizer, CrossbarMLP, one_thread
from npdehw.models.training import History, TrainSpec, epoch_order, fit
from npdehw.sim.crossbar_run import run_crossbar_spice, run_crossbar_twin

__all__ = ["HARDWARE_VARIANTS", "compare_quantization", "crossbar_for", "quantizer_for",
           "train_qat"]

HARDWARE_VARIANTS = ("quantized", "programmed")


def quantizer_for(device: DeviceSpec, levels: int | None = None,
                  noise: float = 0.0) -> ConductanceQuantizer:
    """Return the torch quantizer of ``device``, with ``levels`` in place of its own."""
    if levels is not None:
        device = dataclasses.replace(device, levels=levels)
    return ConductanceQuantizer(device.g_min_s, device.g_max_s, device.level_values(),
                                log_spacing=device.level_spacing == "log", noise=noise)


def train_qat(layers, device: DeviceSpec, levels: int, spec: TrainSpec, noise: float,
              inputs: np.ndarray, labels: np.ndarray, *, checkpoint=None,
              fingerprint: str = "", progress: bool = False,
              on_epoch: Callable[[int], None] | None = None) -> tuple[list, History]:
    """Fine-tune ``layers`` (``(W, b, activation)`` each) for ``levels`` device levels.

    The noise of batch ``k`` in epoch ``e`` is drawn from a generator seeded with
    ``(spec.seed, e, k)``, so a run resumed from a checkpoint draws what an
    uninterrupted run draws.

    Args:
        checkpoint, fingerprint, progress: passed to ``npdehw.models.training.fit``.
        on_epoch: called with each 0-based epoch before it trains; an exception it
            raises stops training, and a later call with the same checkpoint resumes.

    Returns:
        The trained layers and the training history.
    """
    model = CrossbarMLP(layers, quantizer_for(device, levels, noise))
    x = torch.as_tensor(np.asarray(inputs, dtype=float))
    y = torch.as_tensor(np.asarray(labels)).long()

    def batch_loss(batch, epoch, step):
        generator = torch.Generator().manual_seed(
            (spec.seed * 100_003 + epoch) * 10_007 + step) if noise > 0 else None
        return torch.nn.functional.cross_entropy(model(x[batch], generator=generator),
                                                 y[batch])

    def batches(epoch):
        if on_epoch is not None:
            on_epoch(epoch)
        for step, batch in enumerate(epoch_order(len(x), spec, epoch)):
            yield lambda batch=batch, step=step: batch_loss(batch, epoch, step)

    with one_thread():
        history = fit(model, batches, spec, checkpoint=checkpoint, fingerprint=fingerprint,
                      label=f"QAT, {levels} levels", progress=progress)
    return model.layers(), history


def crossbar_for(design, layers, levels: int | None = None, *, programmed: bool = False):
    """Return ``layers`` on the design's crossbar, quantized to ``levels`` device levels.

    ``levels`` defaults to the device's. ``programmed=True`` adds the device's
    programming noise and stuck-at faults, drawn with the network seed.
    """
    device = design.device if levels is None else dataclasses.replace(design.device,
                                                                      levels=levels)
    return build_crossbar_network(
        layers, device, quantize=True, seed=design.network.seed if programmed else None,
        read_v=design.read_v, readout=design.readout, max_rows=design.max_rows,
        max_cols=design.max_cols)


def compare_quantization(design, trained: dict, inputs: np.ndarray, labels: np.ndarray,
                         variants=HARDWARE_VARIANTS) -> dict:
    """Measure PTQ and QAT networks in the twin and in ngspice.

    Args:
        trained: ``{("ptq" or "qat", levels): layers}``.
        variants: the hardware variants to measure, a subset of ``HARDWARE_VARIANTS``.

    Returns:
        ``{levels: {method: {variant: {"twin_accuracy", "spice_accuracy", ...}}}}``
        with ``levels`` as a string (the JSON key).
    """
    metrics = {}
    for (method, levels), layers in trained.items():
        entry = metrics.setdefault(str(levels), {}).setdefault(method, {})
        for variant in variants:
            network = crossbar_for(design, layers, levels,
                                   programmed=variant == "programmed")
            twin, _ = run_crossbar_twin(network, inputs)
            spice, seconds = run_crossbar_spice(network, inputs, title=design.name)
            entry[variant] = {
                "twin_accuracy": float(np.mean(twin.argmax(axis=1) == labels)),
                "spice_accuracy": float(np.mean(spice.argmax(axis=1) == labels)),
                "class_agreement": float(np.mean(spice.argmax(axis=1) ==
                                                 twin.argmax(axis=1))),
                "samples": len(labels), "spice_seconds": seconds}
    return metrics
