"""Generated NPDE models selected by ``[npde.model] kind = ...`` in a design file.

- ``schrodinger``: ``i psi_t = -(1/(2 m)) psi_xx + V(x) psi`` with hbar = 1, split into
  ``u = Re psi`` and ``v = Im psi``: ``u_t = -c lap v + V v``, ``v_t = c lap u - V u``,
  ``c = 1 / (2 m)``. The start is a Gaussian packet normalized to unit probability.
- ``paraxial``: the same form with the propagation distance as time and
  ``c = 1 / (2 k)`` for the wavenumber ``k``.
- ``cellular``: a Chua-Yang cellular network, ``x_t = -x + a pwl_sat(x) + B * u_in + z``,
  with the input image held on a second field ``uin`` that has no dynamics.
- ``torch_mlp``: a small torch MLP, built from a seed, imported as the NPDE whose Euler
  steps compute it; its grid comes from the network, so ``[npde]`` gives no shape.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from npdehw.design_grid import parse_profile
from npdehw.errors import SpecError
from npdehw.models.expressions import parse
from npdehw.models.fields import Constant
from npdehw.models.grid import Grid
from npdehw.models.npde import NPDE, LinearTerm, NonlocalTerm, ReactionTerm
from npdehw.models.stencils import laplacian_kernel
from npdehw.tomlkeys import Table

__all__ = ["MODEL_KINDS", "parse_model", "wave_packet"]


def wave_packet(grid: Grid, center: float, width: float, momentum: float):
    """Return ``(Re psi, Im psi)`` of a unit-norm Gaussian packet, std ``width`` of |psi|^2."""
    x = grid.coordinates()[0]
    amplitude = (2 * math.pi * width**2) ** -0.25
    envelope = amplitude * np.exp(-((x - center) ** 2) / (4 * width**2))
    return envelope * np.cos(momentum * x), envelope * np.sin(momentum * x)


def _wave(table: Table, grid: Grid, end_time: float, coefficient: float) -> NPDE:
    if grid.ndim != 1:
        raise SpecError(table.key("kind"), "the wave models are 1-D; set npde.shape = [n]")
    packet = table.table("packet")
    width = packet.number("width")
    if not width > 0:
        raise SpecError(packet.key("width"), f"must be positive, got {width!r}")
    real, imaginary = wave_packet(grid, packet.number("center"), width,
                                  packet.number("momentum", default=0.0))
    packet.finish()
    laplacian = laplacian_kernel(grid, coefficient)
    terms = (LinearTerm(target="u", source="v", kernel=-laplacian, label="dispersion"),
             LinearTerm(target="v", source="u", kernel=laplacian, label="dispersion"))
    nonlocal_terms = ()
    if table.has("potential"):
        potential = parse_profile(table.table("potential"), grid).evaluate(grid).ravel()
        n = grid.n_cells
        weight = np.zeros((2 * n, 2 * n))
        weight[:n, n:] = np.diag(potential)
        weight[n:, :n] = -np.diag(potential)
        nonlocal_terms = (NonlocalTerm(weight=weight, bias=np.zeros(2 * n), label="potential"),)
    return NPDE(grid=grid, fields=("u", "v"), end_time=end_time, linear=terms,
                nonlocal_terms=nonlocal_terms, initial={"u": real, "v": imaginary})


def _schrodinger(table: Table, grid: Grid, end_time: float) -> NPDE:
    mass = table.number("mass", default=1.0)
    if not mass > 0:
        raise SpecError(table.key("mass"), f"must be positive, got {mass!r}")
    return _wave(table, grid, end_time, 1 / (2 * mass))


def _paraxial(table: Table, grid: Grid, end_time: float) -> NPDE:
    wavenumber = table.number("wavenumber")
    if not wavenumber > 0:
        raise SpecError(table.key("wavenumber"), f"must be positive, got {wavenumber!r}")
    return _wave(table, grid, end_time, 1 / (2 * wavenumber))


def _cellular(table: Table, grid: Grid, end_time: float) -> NPDE:
    feedback = table.number("feedback_center")
    control = np.array(table.raw("control_template"), dtype=float)
    if control.shape != (3,) * grid.ndim:
        raise SpecError(table.key("control_template"), f"needs a {'x'.join(['3'] * grid.ndim)} "
                        f"template, got shape {list(control.shape)}")
    bias = table.number("bias")
    image = parse_profile(table.table("input"), grid)
    output = parse(f"{feedback!r}*pwl_sat(x)", fields=("x", "uin"))
    terms = (LinearTerm(target="x", source="x", kernel=np.full((1,) * grid.ndim, -1.0),
                        label="decay"),
             LinearTerm(target="x", source="uin", kernel=control, label="control_template"))
    return NPDE(grid=grid, fields=("x", "uin"), end_time=end_time, linear=terms,
                reactions=(ReactionTerm(target="x", expression=output,
                                        label="feedback_template"),),
                initial={"x": Constant(value=0.0), "uin": image},
                sources={"x": Constant(value=bias)})


def build_torch_mlp(sizes, activation: str, seed: int):
    """Return the float64 ``nn.Sequential`` MLP of the ``torch_mlp`` model."""
    from torch import nn

    activations = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        layers = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out, dtype=torch.float64))
            if k < len(sizes) - 2:
                layers.append(activations[activation]())
        return nn.Sequential(*layers)
    finally:
        torch.random.set_rng_state(generator_state)


def _torch_mlp(table: Table, end_time: float):
    from npdehw.models.torch_import import npde_from_torch

    sizes = table.int_list("sizes")
    if len(sizes) < 3 or any(n < 1 for n in sizes):
        raise SpecError(table.key("sizes"), f"needs at least three positive layer sizes (input, "
                        f"hidden, output), got {sizes}")
    activation = table.choice("activation", ("tanh", "sigmoid", "relu"))
    seed = table.integer("seed", default=0)
    inputs = table.number_list("input", length=sizes[0])
    module = build_torch_mlp(sizes, activation, seed)
    imported = npde_from_torch(module)
    npde = dataclasses.replace(imported.with_input(np.array(inputs)), end_time=end_time)
    with torch.no_grad():
        expected = module(torch.tensor(inputs, dtype=torch.float64)).numpy()
    info = {"expected_output": expected.tolist(),
            "output_slice": [imported.output_slice.start, imported.output_slice.stop],
            "layers": len(sizes) - 1}
    return npde, info


_MODELS = {"schrodinger": _schrodinger, "paraxial": _paraxial, "cellular": _cellular}
GRID_FREE_MODELS = {"torch_mlp": _torch_mlp}
MODEL_KINDS = tuple(_MODELS) + tuple(GRID_FREE_MODELS)


def parse_model(table: Table, grid: Grid | None, end_time: float):
    """Return ``(npde, info)`` of a ``[npde.model]`` table; ``info`` is None or a dict.

    ``grid`` is None for the models that make their own grid.
    """
    kind = table.choice("kind", MODEL_KINDS)
    if kind in GRID_FREE_MODELS:
        npde, info = GRID_FREE_MODELS[kind](table, end_time)
    else:
        npde, info = _MODELS[kind](table, grid, end_time), None
    table.finish()
    return npde, info
