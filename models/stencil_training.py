"""A learned 3 x 3 stencil with a bias, trained in torch on image pairs.

Output pixel ``(i, j)`` is ``sum_ab w[a, b] x[i + a - 1, j + b - 1] + bias``, with
pixels outside the image taken as zero. This is ``torch.nn.functional.conv2d`` with
``padding=1``, a correlation (the kernel is not flipped). Training starts from the
identity stencil (centre 1, bias 0), whose output is its input. It minimises the mean
squared error over all pixels with ``npdehw.models.training.fit``, and the validation
split drives early stopping.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from npdehw.models.stencil_images import StencilData
from npdehw.models.training import History, TrainSpec, epoch_order, fit

__all__ = ["IDENTITY", "TrainedStencil", "apply_stencil", "mean_squared_error",
           "train_stencil"]

IDENTITY = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


@dataclasses.dataclass(frozen=True)
class TrainedStencil:
    """A trained stencil and how it got there.

    Attributes:
        weight: the kernel, shape ``(3, 3)``; ``weight[a, b]`` weights the pixel at
            offset ``(a - 1, b - 1)``.
        bias: added to every output pixel, in pixel units.
        initial_weight, initial_bias: where training started.
        history: losses per epoch (mean squared error in pixel units squared).
    """

    weight: np.ndarray
    bias: float
    initial_weight: np.ndarray
    initial_bias: float
    history: History

    def apply(self, images: np.ndarray) -> np.ndarray:
        """Return the stencil's output for ``images`` of shape ``(n, rows, cols)``."""
        return apply_stencil(images, self.weight, self.bias)


def apply_stencil(images, weight, bias) -> np.ndarray | torch.Tensor:
    """Return the stencil output; numpy in, numpy out, and torch tensors keep gradients."""
    if isinstance(images, torch.Tensor):
        output = F.conv2d(images[:, None], weight[None, None], padding=1)[:, 0]
        return output + bias
    with torch.no_grad():
        result = apply_stencil(torch.as_tensor(np.asarray(images, dtype=np.float64)),
                               torch.as_tensor(np.asarray(weight, dtype=np.float64)),
                               float(bias))
    return result.numpy()


def mean_squared_error(output: np.ndarray, target: np.ndarray) -> float:
    """Return the mean squared error over all pixels of all images."""
    return float(np.mean((np.asarray(output) - np.asarray(target)) ** 2))


def train_stencil(data: StencilData, spec: TrainSpec, *, checkpoint: Path | None = None,
                  fingerprint: str = "", progress: bool = True) -> TrainedStencil:
    """Train the stencil on ``data.train``, stopping early on ``data.validation``.

    Runs on one torch thread (restored afterwards), because on tensors this small
    more threads only add overhead. ``checkpoint`` and ``fingerprint`` go to ``fit``,
    so a stopped run resumes from its last epoch.
    """
    weight = torch.tensor(IDENTITY, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    inputs, targets = _tensors(data.train)
    valid_inputs, valid_targets = _tensors(data.validation)

    def batches(epoch):
        for index in epoch_order(len(inputs), spec, epoch):
            yield lambda index=index: torch.mean(
                (apply_stencil(inputs[index], weight, bias) - targets[index]) ** 2)

    def validate():
        return torch.mean((apply_stencil(valid_inputs, weight, bias) - valid_targets) ** 2)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        history = fit([weight, bias], batches, spec, validate=validate,
                      checkpoint=checkpoint, fingerprint=fingerprint, label="stencil",
                      progress=progress)
    finally:
        torch.set_num_threads(threads)
    return TrainedStencil(weight.detach().numpy().copy(), float(bias.detach()),
                          IDENTITY.copy(), 0.0, history)


def _tensors(split):
    return (torch.as_tensor(split.inputs, dtype=torch.float64),
            torch.as_tensor(split.targets, dtype=torch.float64))
