"""Dense layers whose weights are read as differential pairs of device conductances.

The forward pass mirrors how ``npdehw.hw.crossbar.map_weights`` (differential scheme)
programs a layer's augmented matrix ``M = [W | b]`` of shape ``(n_out, n_in + 1)``:

    scale = (g_max - g_min) / max |M|                       siemens per weight unit
    G+    = g_min + scale * max(M, 0),  G- = g_min + scale * max(-M, 0)
    M_eff = (G+ - G-) / scale

and, for quantization-aware training, rounds ``G+`` and ``G-`` to the device levels
with a straight-through estimator and multiplies them by ``1 + sigma N(0, 1)`` to
mimic programming noise. ``scale`` follows the current weights, as the mapping does,
but carries no gradient. The bias enters as one more input held at 1, as the crossbar's
bias row is held at the read voltage.

``measured`` pre-activations (for example ngspice's) replace the twin's layer by layer
through ``z_twin + (z_measured - z_twin).detach()``: the forward pass then carries the
measured values and the backward pass takes the twin's Jacobians at them.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from npdehw.models.parametrize import nearest_level, relative_noise, straight_through

__all__ = ["ConductanceQuantizer", "CrossbarMLP", "effective_matrix", "one_thread"]

_ACTIVATIONS = {"identity": lambda z: z, "tanh": torch.tanh, "relu": torch.relu,
                "sigmoid": torch.sigmoid}


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread inside the block and restore the thread count after it.

    On matrices this small more threads only add overhead: with two threads on a busy
    2-core CPU, a QAT run took more than ten times as long in one measurement.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ConductanceQuantizer:
    """A device's conductance range, level set and programming noise, for torch.

    Args:
        g_min_s, g_max_s: conductance range in siemens.
        levels_s: programmable conductances in siemens, ascending, or None for
            continuous conductances.
        log_spacing: measure the distance to the levels in log conductance (for
            log-spaced levels), as ``npdehw.hw.devices.quantize_conductance`` does.
        noise: relative standard deviation of the programming noise to inject; 0 for none.
    """

    def __init__(self, g_min_s: float, g_max_s: float, levels_s=None,
                 log_spacing: bool = False, noise: float = 0.0):
        if not 0 < g_min_s < g_max_s:
            raise ValueError(f"need 0 < g_min_s < g_max_s, got {g_min_s!r}, {g_max_s!r}")
        if noise < 0:
            raise ValueError(f"noise must be zero or positive, got {noise!r}")
        self.g_min_s, self.g_max_s = float(g_min_s), float(g_max_s)
        self.levels_s = None if levels_s is None else np.sort(np.asarray(levels_s, float))
        self.log_spacing = log_spacing
        self.noise = float(noise)

    def __call__(self, conductance_s: torch.Tensor, generator=None) -> torch.Tensor:
        """Return conductances as programmed: on the level set, then with noise if drawn.

        Values outside the range round to the nearest end level. Without levels they
        are not clipped, so the gradient reaches every device.
        """
        values = conductance_s
        if self.levels_s is not None:
            values = straight_through(values, nearest_level(values, self.levels_s,
                                                             log=self.log_spacing))
        if generator is not None and self.noise > 0:
            values = relative_noise(values, self.noise, generator)
            values = values.clamp(self.g_min_s, self.g_max_s)
        return values


def effective_matrix(matrix: torch.Tensor, quantizer: ConductanceQuantizer,
                     generator=None) -> torch.Tensor:
    """Return the matrix that a differential crossbar programmed from ``matrix`` computes.

    Args:
        matrix: the augmented ``[W | b]``, shape ``(n_out, n_in + 1)``.
        quantizer: the device.
        generator: the torch generator that draws programming noise, or None for none.
    """
    largest = matrix.detach().abs().max()
    largest = torch.where(largest > 0, largest, torch.ones_like(largest))
    scale = (quantizer.g_max_s - quantizer.g_min_s) / largest
    # relu(M) - M equals relu(-M) exactly. Written this way, d M_eff / d M is 1 at
    # M = 0 too, where torch gives relu a zero derivative.
    positive = torch.relu(matrix)
    plus = quantizer(quantizer.g_min_s + scale * positive, generator)
    minus = quantizer(quantizer.g_min_s + scale * (positive - matrix), generator)
    return (plus - minus) / scale


class CrossbarMLP(nn.Module):
    """A feed-forward network of differential crossbar layers, trainable in torch.

    Args:
        layers: ``(W, b, activation)`` per layer, ``W`` of shape ``(n_out, n_in)``;
            the activation is ``identity``, ``tanh``, ``relu`` or ``sigmoid``.
        quantizer: the device every layer is programmed on.
    """

    def __init__(self, layers, quantizer: ConductanceQuantizer):
        super().__init__()
        self.quantizer = quantizer
        self.activations = [activation for _, _, activation in layers]
        unknown = [a for a in self.activations if a not in _ACTIVATIONS]
        if unknown:
            raise ValueError(f"unknown activation {unknown[0]!r}; use one of "
                             f"{sorted(_ACTIVATIONS)}")
        self.matrices = nn.ParameterList(
            nn.Parameter(torch.as_tensor(np.hstack([np.asarray(w, float),
                                                    np.asarray(b, float)[:, None]])))
            for w, b, _ in layers)

    def effective(self, generator=None) -> list[torch.Tensor]:
        """Return each layer's effective ``[W | b]`` as programmed."""
        return [effective_matrix(m, self.quantizer, generator) for m in self.matrices]

    def forward(self, inputs: torch.Tensor, *, generator=None, measured=None) -> torch.Tensor:
        """Return the last layer's pre-activations, shape ``(n_samples, n_out)``.

        Args:
            inputs: shape ``(n_samples, n_in)``.
            generator: the torch generator that draws programming noise for this
                pass, or None for a pass without noise.
            measured: optional pre-activations per layer, each ``(n_samples, n_out)``,
                that replace the twin's in the forward pass (see the module docstring).
        """
        signal = inputs
        matrices = self.effective(generator)
        ones = torch.ones(len(inputs), 1, dtype=inputs.dtype)
        for number, (matrix, activation) in enumerate(zip(matrices, self.activations)):
            z = torch.cat([signal, ones], dim=1) @ matrix.T
            if measured is not None:
                z = z + (torch.as_tensor(measured[number], dtype=z.dtype) - z).detach()
            signal = _ACTIVATIONS[activation](z)
        return z

    def pre_activations(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        """Return every layer's pre-activations without noise (for comparisons)."""
        signal, result = inputs, []
        ones = torch.ones(len(inputs), 1, dtype=inputs.dtype)
        for matrix, activation in zip(self.effective(), self.activations):
            z = torch.cat([signal, ones], dim=1) @ matrix.T
            result.append(z)
            signal = _ACTIVATIONS[activation](z)
        return result

    def layers(self) -> list[tuple[np.ndarray, np.ndarray, str]]:
        """Return the trained ``(W, b, activation)`` per layer, as the mapping takes them."""
        result = []
        for matrix, activation in zip(self.matrices, self.activations):
            values = matrix.detach().numpy().copy()
            result.append((values[:, :-1], values[:, -1], activation))
        return result
