"""NPDEs whose forward Euler steps compute a given torch module.

Supported modules and the NPDE each becomes (dt = 1 throughout):

- ``nn.Linear``, or an ``nn.Sequential`` of one ``nn.Linear`` and an activation:
  one dense step ``u' = act(W u + b)`` on one field of ``max(n_in, n_out)`` nodes,
  with a decay of ``1 / dt`` as a one-point stencil and one non-local term;
- ``nn.Sequential`` of two or more ``nn.Linear`` layers with activations: one field
  of ``n_in + n_1 + ... + n_out`` nodes in layer order. Input nodes carry no term, so
  they hold their value. Each layer adds a non-local identity term ``-diag(1 / dt)``
  on its rows (the decay) and a non-local term with its activation whose ``W``
  block maps the previous layer's nodes to its own. After one Euler step per layer
  the output nodes hold the network's output;
- ``nn.Conv1d`` and ``nn.Conv2d`` with stride 1, odd kernels and 'same' padding:
  one field per channel (``max(in, out)`` fields), one stencil term per channel pair
  with kernel ``(W - delta) / dt``, and the bias as a constant source. Padding
  modes map to boundary conditions: ``zeros`` to Dirichlet 0, ``circular`` to
  periodic, and ``replicate`` to zero flux for kernels at most 3 wide.

Torch convolutions are cross-correlations, ``out[i] = sum_o w[c + o] x[i + o]``, which
is the stencil convention of ``npdehw.models.stencils``, so kernels are not flipped.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import torch
from torch import nn

from npdehw.models.fields import Constant
from npdehw.models.grid import AXES, Boundary, Grid
from npdehw.models.npde import NPDE, LinearTerm, NonlocalTerm

__all__ = ["ImportedNetwork", "SUPPORTED", "npde_from_torch"]

SUPPORTED = ("nn.Linear; nn.Conv1d or nn.Conv2d (stride 1, odd kernel, 'same' padding, "
             "padding_mode zeros, circular or replicate); nn.Sequential of nn.Linear layers, "
             "each optionally followed by nn.Tanh, nn.Sigmoid, nn.ReLU, nn.Hardtanh(-1, 1) "
             "or nn.Identity")

DT = 1.0


@dataclasses.dataclass(frozen=True, eq=False)
class ImportedNetwork:
    """An NPDE whose Euler steps compute a torch module, and how to feed and read it.

    Attributes:
        npde: the NPDE; its initial condition is zero (see ``with_input``).
        dt: the Euler step.
        n_steps: the number of Euler steps from the loaded input to the output.
        input_slice: the state entries that hold the flattened input.
        output_slice: the state entries that hold the flattened output after
            ``n_steps`` steps.
        input_shape: the module's input shape without the batch axes.
        output_shape: the module's output shape without the batch axes.
    """

    npde: NPDE
    dt: float
    n_steps: int
    input_slice: slice
    output_slice: slice
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def load(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return the float64 states ``(..., n_state)`` that start from ``inputs``."""
        inputs = torch.as_tensor(inputs, dtype=torch.float64)
        batch = inputs.shape[:inputs.ndim - len(self.input_shape)]
        if tuple(inputs.shape[len(batch):]) != self.input_shape:
            raise ValueError(f"inputs of shape {tuple(inputs.shape)} do not end in the "
                             f"module's input shape {self.input_shape}")
        state = inputs.new_zeros(*batch, self.npde.n_state)
        state[..., self.input_slice] = inputs.reshape(*batch, -1)
        return state

    def read(self, state: torch.Tensor) -> torch.Tensor:
        """Return the module output ``(..., *output_shape)`` held by ``state``."""
        return state[..., self.output_slice].reshape(*state.shape[:-1], *self.output_shape)

    def with_input(self, inputs) -> NPDE:
        """Return the NPDE with one input sample as its initial condition."""
        state = self.load(inputs)
        if state.ndim != 1:
            raise ValueError(f"with_input takes one sample of shape {self.input_shape}, got "
                             f"{tuple(torch.as_tensor(inputs).shape)}")
        initial = {name: state[self.npde.field_slice(name)].numpy().copy()
                   for name in self.npde.fields}
        return dataclasses.replace(self.npde, initial=initial)

    def run(self, inputs) -> torch.Tensor:
        """Return the output after ``n_steps`` of ``NPDE.euler_step``, sample by sample."""
        states = self.load(inputs)
        flat = states.reshape(-1, self.npde.n_state)
        results = []
        for state in flat:
            for _ in range(self.n_steps):
                state = self.npde.euler_step(state, self.dt)
            results.append(state)
        return self.read(torch.stack(results).reshape(states.shape))


def npde_from_torch(module: nn.Module, *,
                    spatial_shape: tuple[int, ...] | None = None) -> ImportedNetwork:
    """Return an ``ImportedNetwork`` whose Euler steps compute ``module``.

    Args:
        module: see the module docstring for what is supported.
        spatial_shape: the grid a convolution runs on, ``(length,)`` or
            ``(height, width)``; required for convolutions, ignored otherwise.

    Raises:
        ValueError: for an unsupported layer or setting; the message names the layer
            and lists what is supported.
    """
    name = type(module).__name__
    if isinstance(module, nn.Sequential):
        return _import_sequential(module, spatial_shape)
    if type(module) is nn.Linear:
        return _import_dense(module, "identity")
    if type(module) in (nn.Conv1d, nn.Conv2d):
        return _import_conv(module, name, spatial_shape)
    raise ValueError(f"layer {name} is not supported. Supported: {SUPPORTED}")


# --- dense layers -----------------------------------------------------------------------


def _activation_name(module: nn.Module) -> str | None:
    """Return the NPDE activation that a torch layer computes, or None for any other layer."""
    if type(module) is nn.Tanh:
        return "tanh"
    if type(module) is nn.Sigmoid:
        return "sigmoid"
    if type(module) is nn.ReLU:
        return "relu"
    if type(module) is nn.Hardtanh and module.min_val == -1.0 and module.max_val == 1.0:
        return "pwl_sat"
    return None


def _flatten(module: nn.Sequential, prefix: str = ""):
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            yield from _flatten(child, f"{path}.")
        else:
            yield path, child


def _import_sequential(module: nn.Sequential, spatial_shape) -> ImportedNetwork:
    children = [(path, child) for path, child in _flatten(module)
                if type(child) is not nn.Identity]
    if len(children) == 1 and type(children[0][1]) in (nn.Conv1d, nn.Conv2d):
        path, child = children[0]
        return _import_conv(child, f"{path} ({type(child).__name__})", spatial_shape)
    layers = []
    for path, child in children:
        label = f"layer {path} ({type(child).__name__})"
        if type(child) is nn.Linear:
            if layers and layers[-1][0].out_features != child.in_features:
                raise ValueError(f"{label}: takes {child.in_features} inputs but the layer "
                                 f"before it gives {layers[-1][0].out_features}")
            layers.append([child, "identity"])
        elif (activation := _activation_name(child)) is not None:
            if not layers:
                raise ValueError(f"{label}: an activation must follow an nn.Linear")
            if layers[-1][1] != "identity":
                raise ValueError(f"{label}: follows another activation, but each nn.Linear "
                                 "takes at most one")
            layers[-1][1] = activation
        else:
            raise ValueError(f"{label} is not supported. Supported: {SUPPORTED}")
    if not layers:
        raise ValueError(f"nn.Sequential without an nn.Linear. Supported: {SUPPORTED}")
    if len(layers) == 1:
        return _import_dense(*layers[0])
    return _import_mlp(layers)


def _parameters(linear: nn.Linear) -> tuple[np.ndarray, np.ndarray]:
    weight = linear.weight.detach().cpu().double().numpy()
    bias = (np.zeros(linear.out_features) if linear.bias is None
            else linear.bias.detach().cpu().double().numpy())
    return weight, bias


def _chain_grid(n: int) -> Grid:
    return Grid(shape=(n,), spacing=(1.0,),
                boundaries={"x_low": Boundary(kind="zero_flux"),
                            "x_high": Boundary(kind="zero_flux")})


def _import_dense(linear: nn.Linear, activation: str) -> ImportedNetwork:
    weight, bias = _parameters(linear)
    n_out, n_in = weight.shape
    n = max(n_in, n_out)
    full_weight = np.zeros((n, n))
    full_weight[:n_out, :n_in] = weight
    full_bias = np.zeros(n)
    full_bias[:n_out] = bias
    npde = NPDE(grid=_chain_grid(n), fields=("u",), initial={}, end_time=DT,
                linear=(LinearTerm(target="u", source="u", kernel=np.array([-1.0 / DT]),
                                   label="decay"),),
                nonlocal_terms=(NonlocalTerm(weight=full_weight, bias=full_bias,
                                             activation=activation, label="dense"),))
    return ImportedNetwork(npde=npde, dt=DT, n_steps=1, input_slice=slice(0, n_in),
                           output_slice=slice(0, n_out), input_shape=(n_in,),
                           output_shape=(n_out,))


def _import_mlp(layers) -> ImportedNetwork:
    sizes = [layers[0][0].in_features] + [linear.out_features for linear, _ in layers]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n = int(offsets[-1])
    terms = []
    for k, (linear, activation) in enumerate(layers):
        weight, bias = _parameters(linear)
        rows = np.arange(offsets[k + 1], offsets[k + 2])
        cols = np.arange(offsets[k], offsets[k + 1])
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        decay = np.zeros((n, n))
        decay[rows, rows] = -1.0 / DT
        block = np.zeros((n, n))
        block[np.ix_(rows, cols)] = weight
        full_bias = np.zeros(n)
        full_bias[rows] = bias
        terms.append(NonlocalTerm(weight=decay, bias=np.zeros(n), activation="identity",
                                  rows=mask, label=f"layer{k + 1}_decay"))
        terms.append(NonlocalTerm(weight=block, bias=full_bias, activation=activation,
                                  rows=mask, label=f"layer{k + 1}"))
    npde = NPDE(grid=_chain_grid(n), fields=("u",), initial={}, end_time=DT * len(layers),
                nonlocal_terms=tuple(terms))
    return ImportedNetwork(npde=npde, dt=DT, n_steps=len(layers),
                           input_slice=slice(0, sizes[0]),
                           output_slice=slice(n - sizes[-1], n),
                           input_shape=(sizes[0],), output_shape=(sizes[-1],))


# --- convolutions -----------------------------------------------------------------------

_BOUNDARY_OF_PADDING = {"zeros": "dirichlet", "circular": "periodic", "replicate": "zero_flux"}


def _conv_kernel(conv: nn.Module) -> np.ndarray:
    """Return the weight as ``(out, in, *size)`` with groups and dilation written out."""
    weight = conv.weight.detach().cpu().double().numpy()
    out_per_group = conv.out_channels // conv.groups
    in_per_group = conv.in_channels // conv.groups
    size = tuple(d * (k - 1) + 1 for d, k in zip(conv.dilation, conv.kernel_size))
    full = np.zeros((conv.out_channels, conv.in_channels) + size)
    spread = tuple(slice(None, None, d) for d in conv.dilation)
    for group in range(conv.groups):
        outs = slice(group * out_per_group, (group + 1) * out_per_group)
        ins = slice(group * in_per_group, (group + 1) * in_per_group)
        full[(outs, ins) + spread] = weight[outs]
    return full


def _check_conv(conv: nn.Module, label: str, spatial_shape) -> tuple[int, ...]:
    ndim = len(conv.kernel_size)

    if spatial_shape is None or len(tuple(spatial_shape)) != ndim:
        raise ValueError(f"{label}: needs spatial_shape with {ndim} entries, the size of the "
                         f"grid it runs on, got {spatial_shape!r}")
    spatial_shape = tuple(int(n) for n in spatial_shape)
    if any(n < 1 for n in spatial_shape):
        raise ValueError(f"{label}: spatial_shape {spatial_shape} needs at least one node "
                         "per axis")

    if any(s != 1 for s in conv.stride):
        raise ValueError(f"{label}: stride {conv.stride} is not supported because an Euler "
                         f"step keeps the grid, so stride must be 1. Supported: {SUPPORTED}")
    if any(k % 2 == 0 for k in conv.kernel_size):
        raise ValueError(f"{label}: kernel size {conv.kernel_size} is even, but a stencil is "
                         f"centred on its node, so every size must be odd. Supported: {SUPPORTED}")

    same = tuple(d * (k - 1) // 2 for d, k in zip(conv.dilation, conv.kernel_size))
    padding = conv.padding
    if padding == "valid":
        padding = (0,) * ndim
    if padding != "same" and tuple(padding) != same:
        raise ValueError(f"{label}: padding {conv.padding!r} does not keep the size. Use "
                         f"padding='same' or {same}. Supported: {SUPPORTED}")

    if conv.padding_mode not in _BOUNDARY_OF_PADDING:
        raise ValueError(f"{label}: padding_mode {conv.padding_mode!r} is not supported "
                         f"('reflect' skips the edge node, unlike the zero-flux mirror); "
                         f"use one of {sorted(_BOUNDARY_OF_PADDING)}. Supported: {SUPPORTED}")
    if conv.padding_mode == "replicate" and max(same) > 1:
        raise ValueError(f"{label}: padding_mode 'replicate' with a reach of {max(same)} "
                         "nodes copies the edge node into every ghost, but the zero-flux "
                         "mirror takes node 1 for the second ghost. Use kernels at most "
                         f"3 wide (dilation 1). Supported: {SUPPORTED}")
    return spatial_shape


def _import_conv(conv: nn.Module, name: str, spatial_shape) -> ImportedNetwork:
    label = f"layer {name}"
    spatial_shape = _check_conv(conv, label, spatial_shape)
    ndim = len(spatial_shape)
    kind = _BOUNDARY_OF_PADDING[conv.padding_mode]
    grid = Grid(shape=spatial_shape, spacing=(1.0,) * ndim,
                boundaries={f"{AXES[axis]}_{end}": Boundary(kind=kind)
                            for axis in range(ndim) for end in ("low", "high")})

    kernel = _conv_kernel(conv)
    n_fields = max(conv.in_channels, conv.out_channels)
    fields = ("u",) if n_fields == 1 else tuple(f"c{k}" for k in range(n_fields))
    full = np.zeros((n_fields, n_fields) + kernel.shape[2:])
    full[:conv.out_channels, :conv.in_channels] = kernel
    centre = tuple(s // 2 for s in kernel.shape[2:])
    terms = []
    for target, source in itertools.product(range(n_fields), repeat=2):
        stencil = full[target, source].copy()
        if target == source:
            stencil[centre] -= 1.0
        stencil /= DT
        if np.any(stencil != 0.0):
            terms.append(LinearTerm(target=fields[target], source=fields[source],
                                    kernel=stencil, label="conv"))

    sources = {}
    if conv.bias is not None:
        for k, value in enumerate(conv.bias.detach().cpu().double().numpy()):
            if value != 0.0:
                sources[fields[k]] = Constant(value=float(value) / DT)

    npde = NPDE(grid=grid, fields=fields, initial={}, end_time=DT, linear=tuple(terms),
                sources=sources)
    n_nodes = math.prod(spatial_shape)
    return ImportedNetwork(npde=npde, dt=DT, n_steps=1,
                           input_slice=slice(0, conv.in_channels * n_nodes),
                           output_slice=slice(0, conv.out_channels * n_nodes),
                           input_shape=(conv.in_channels, *spatial_shape),
                           output_shape=(conv.out_channels, *spatial_shape))
