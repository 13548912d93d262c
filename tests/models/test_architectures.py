"""Euler steps of NPDEs as torch modules, and NPDEs imported from torch modules.

Every comparison is in float64 against ``NPDE.euler_step``, or against the torch module
for imports, with a tolerance of 1e-12, far above float64 rounding on these sizes.
"""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from npdehw.hw.builder import build_circuit
from npdehw.hw.mapping import CircuitMapping
from npdehw.hw.netlist import TransientAnalysis, write_netlist
from npdehw.models.architectures import (
    BoundaryPad,
    conv_step,
    dense_step,
    image_to_state,
    mlp_steps,
    recurrent_cell,
    residual_step,
    state_to_image,
)
from npdehw.models.expressions import parse
from npdehw.models.fields import Constant, Gaussian
from npdehw.models.grid import Boundary, Grid
from npdehw.models.npde import ACTIVATIONS, NPDE, LinearTerm, NonlocalTerm, ReactionTerm
from npdehw.models.torch_import import npde_from_torch

TOLERANCE = 1e-12
PERIODIC = Boundary(kind="periodic")
ZERO_FLUX = Boundary(kind="zero_flux")
DIRICHLET = Boundary(kind="dirichlet")


def dirichlet(value):
    return Boundary(kind="dirichlet", value=value)


def make_grid(shape, sides):
    """Return a grid with spacings 0.5 and 0.75 and ``sides`` given as low, high per axis."""
    names = ("x_low", "x_high", "y_low", "y_high")
    return Grid(shape=shape, spacing=tuple(0.5 + 0.25 * k for k in range(len(shape))),
                boundaries=dict(zip(names, sides)))


def chain(n, boundary=ZERO_FLUX):
    return make_grid((n,), (boundary, boundary))


def decay(field, rate):
    return LinearTerm(target=field, source=field, kernel=np.array([-rate]), label="decay")


def random_states(rng, npde, count=3):
    return torch.as_tensor(rng.normal(size=(count, npde.n_state)), dtype=torch.float64)


def euler(npde, states, dt, n_steps=1):
    """Return ``n_steps`` of ``NPDE.euler_step`` applied to each state of a batch."""
    results = []
    for state in states:
        for _ in range(n_steps):
            state = npde.euler_step(state, dt)
        results.append(state)
    return torch.stack(results)


def max_error(a, b):
    return float((a - b).detach().abs().max())


def randomize(module, rng):
    """Overwrite every parameter of a float64 module with standard normal values."""
    module.double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.as_tensor(rng.normal(size=parameter.shape)))
    return module


def random_nonlocal(rng, n, activation, rows=None, label="nonlocal"):
    return NonlocalTerm(weight=rng.normal(size=(n, n)) / np.sqrt(n), bias=rng.normal(size=n),
                        activation=activation, rows=rows, label=label)


# --- dense step -------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_step_matches_euler(rng, activation):
    """Decay 1 on two fields plus one activation term is act(W u + b) at dt = 1."""
    grid = chain(4)
    npde = NPDE(grid=grid, fields=("u", "v"), initial={}, end_time=1.0,
                linear=(decay("u", 1.0), decay("v", 1.0)),
                nonlocal_terms=(random_nonlocal(rng, 8, activation),))
    states = random_states(rng, npde)
    layer = dense_step(npde, 1.0)
    assert isinstance(layer[0], nn.Linear)
    assert max_error(layer(states), euler(npde, states, 1.0)) < TOLERANCE


def test_dense_step_nonlocal_decay(rng):
    """A -I identity term is the decay, and rows outside a tanh mask step to zero."""
    n = 6
    rows = np.arange(n) < 4
    npde = NPDE(grid=chain(n), fields=("u",), initial={}, end_time=1.0,
                nonlocal_terms=(NonlocalTerm(weight=-np.eye(n), bias=np.zeros(n)),
                                random_nonlocal(rng, n, "tanh", rows=rows)))
    states = random_states(rng, npde)
    result = dense_step(npde, 1.0)(states)
    assert max_error(result, euler(npde, states, 1.0)) < TOLERANCE
    assert float(result[:, 4:].detach().abs().max()) == 0.0


def test_dense_step_of_linear_npde(rng):
    """A linear NPDE (diffusion, decay, source) is one nn.Linear at any dt."""
    grid = chain(5, dirichlet(0.4))
    npde = NPDE(grid=grid, fields=("u",), initial={}, end_time=1.0,
                linear=(LinearTerm(target="u", source="u", kernel=np.array([1.0, -2.0, 1.0])),
                        decay("u", 0.3)),
                sources={"u": rng.normal(size=5)})
    states = random_states(rng, npde)
    layer = dense_step(npde, 0.1)
    assert isinstance(layer[1], nn.Identity)
    assert max_error(layer(states), euler(npde, states, 0.1)) < TOLERANCE


def test_dense_step_rejects_diffusion(rng):
    """Diffusion next to the activation is not a dense layer."""
    npde = NPDE(grid=chain(4), fields=("u",), initial={}, end_time=1.0,
                linear=(LinearTerm(target="u", source="u", kernel=np.array([1.0, -3.0, 1.0])),),
                nonlocal_terms=(random_nonlocal(rng, 4, "tanh"),))
    with pytest.raises(ValueError, match="keep a linear part"):
        dense_step(npde, 1.0)


def test_dense_step_rejects_dt(rng):
    """gamma dt = 1 with dt = 0.5 gives dt act(...), not a dense layer."""
    npde = NPDE(grid=chain(4), fields=("u",), initial={}, end_time=1.0,
                linear=(decay("u", 2.0),), nonlocal_terms=(random_nonlocal(rng, 4, "relu"),))
    with pytest.raises(ValueError, match="dt = 1"):
        dense_step(npde, 0.5)


def test_dense_step_rejects_two_activations(rng):
    """Two activations on different rows do not make one dense layer."""
    rows = np.arange(4) < 2
    npde = NPDE(grid=chain(4), fields=("u",), initial={}, end_time=1.0,
                linear=(decay("u", 1.0),),
                nonlocal_terms=(random_nonlocal(rng, 4, "relu", rows=rows),
                                random_nonlocal(rng, 4, "tanh", rows=~rows)))
    with pytest.raises(ValueError, match="several activations"):
        dense_step(npde, 1.0)


def test_dense_step_rejects_sigmoid_outside_mask(rng):
    """Rows outside a sigmoid mask step to 0, which sigmoid(0) = 0.5 cannot give."""
    npde = NPDE(grid=chain(4), fields=("u",), initial={}, end_time=1.0,
                linear=(decay("u", 1.0),),
                nonlocal_terms=(random_nonlocal(rng, 4, "sigmoid", rows=np.arange(4) < 2),))
    with pytest.raises(ValueError, match="sigmoid"):
        dense_step(npde, 1.0)


# --- residual step and recurrent cell ---------------------------------------------------


def full_npde(rng, grid, kernel_shape):
    """Return a two-field NPDE with every kind of term."""
    n = 2 * int(np.prod(grid.shape))
    ones = (3,) * grid.ndim
    return NPDE(
        grid=grid, fields=("u", "v"), initial={}, end_time=1.0,
        linear=(LinearTerm(target="u", source="u", kernel=rng.normal(size=ones)),
                LinearTerm(target="v", source="u", kernel=rng.normal(size=kernel_shape)),
                LinearTerm(target="v", source="v", kernel=np.full((1,) * grid.ndim, -0.7))),
        reactions=(ReactionTerm(target="u", expression=parse("u - u^3", ("u", "v"))),
                   ReactionTerm(target="v", expression=parse("u*v", ("u", "v")))),
        nonlocal_terms=(random_nonlocal(rng, n, "identity"),
                        random_nonlocal(rng, n, "tanh", rows=rng.random(n) < 0.5),
                        random_nonlocal(rng, n, "relu")),
        sources={"u": Gaussian(center=(0.5,) * grid.ndim, width=0.4),
                 "v": rng.normal(size=n // 2)})


@pytest.mark.parametrize("grid", [
    chain(6, dirichlet(0.8)),
    make_grid((4, 3), (dirichlet(1.0), ZERO_FLUX, PERIODIC, PERIODIC)),
], ids=["1d", "2d"])
def test_residual_step_matches_euler(rng, grid):
    """Stencils, Dirichlet ghosts, sources, reactions and masked terms all match."""
    npde = full_npde(rng, grid, (5,) * grid.ndim)
    states = random_states(rng, npde)
    step = residual_step(npde, 0.05)
    assert max_error(step(states), euler(npde, states, 0.05)) < TOLERANCE


def test_residual_step_skip_connection(rng):
    """The step is u + dt rate(u), with the skip outside every layer."""
    npde = full_npde(rng, chain(5), (3,))
    states = random_states(rng, npde)
    step = residual_step(npde, 0.2)
    assert max_error(step(states) - states, 0.2 * step.rate(states)) < TOLERANCE


def test_recurrent_cell_input_as_source(rng):
    """h' = step(h) + dt x equals the Euler step with x added to the sources."""
    grid = chain(5, PERIODIC)
    npde = full_npde(rng, grid, (5,))
    hidden = random_states(rng, npde, 1)[0]
    inputs = torch.as_tensor(rng.normal(size=npde.n_state))
    driven = dataclasses.replace(npde, sources={
        "u": npde.source_state()[:5] + inputs[:5].numpy(),
        "v": npde.source_state()[5:] + inputs[5:].numpy()})
    cell = recurrent_cell(npde, 0.1)
    assert max_error(cell(hidden, inputs), driven.euler_step(hidden, 0.1)) < TOLERANCE


def test_recurrent_cell_input_field(rng):
    """With input_field the input drives that field only."""
    npde = full_npde(rng, chain(5), (3,))
    hidden = random_states(rng, npde, 1)[0]
    inputs = torch.as_tensor(rng.normal(size=5))
    driven = dataclasses.replace(npde, sources={**npde.sources, "v": npde.sources["v"]
                                                + inputs.numpy()})
    cell = recurrent_cell(npde, 0.1, input_field="v")
    assert max_error(cell(hidden, inputs), driven.euler_step(hidden, 0.1)) < TOLERANCE


# --- convolution ------------------------------------------------------------------------

CONV_CASES = {
    "periodic_k3": ((7,), (PERIODIC, PERIODIC), [(3,)], 1),
    "periodic_wider_than_grid": ((3,), (PERIODIC, PERIODIC), [(9,), (3,)], 2),
    "zero_flux_k3": ((6,), (ZERO_FLUX, ZERO_FLUX), [(3,)], 2),
    "zero_flux_k5": ((6,), (ZERO_FLUX, ZERO_FLUX), [(5,), (3,)], 2),
    "zero_flux_wider_than_grid": ((2,), (ZERO_FLUX, ZERO_FLUX), [(7,)], 1),
    "dirichlet_zero": ((6,), (DIRICHLET, DIRICHLET), [(3,), (5,)], 2),
    "dirichlet_values": ((6,), (dirichlet(0.7), dirichlet(-1.3)), [(5,)], 2),
    "dirichlet_and_zero_flux": ((5,), (dirichlet(2.0), ZERO_FLUX), [(5,), (3,)], 3),
    "2d_periodic": ((4, 3), (PERIODIC,) * 4, [(3, 3)], 2),
    "2d_periodic_and_zero_flux": ((5, 3), (PERIODIC, PERIODIC, ZERO_FLUX, ZERO_FLUX),
                                  [(3, 5), (1, 3)], 2),
    "2d_dirichlet_corners": ((5, 4), (dirichlet(1.5), dirichlet(-0.5), dirichlet(2.0),
                                      dirichlet(0.25)), [(3, 3), (5, 3)], 2),
    "2d_zero_flux_k5": ((4, 4), (ZERO_FLUX,) * 4, [(5, 5)], 1),
    "2d_every_side_different": ((5, 4), (dirichlet(1.0), ZERO_FLUX, PERIODIC, PERIODIC),
                                [(5, 5), (3, 1)], 3),
}


def conv_npde(rng, shape, sides, kernel_shapes, n_fields):
    """Return an NPDE of random stencils between every pair of fields, with sources."""
    grid = make_grid(shape, sides)
    fields = ("u", "v", "w")[:n_fields]
    terms = []
    for k, (target, source) in enumerate((t, s) for t in fields for s in fields):
        kernel_shape = kernel_shapes[k % len(kernel_shapes)]
        kernel = rng.normal(size=kernel_shape)
        terms.append(LinearTerm(target=target, source=source, kernel=kernel))
    sources = {"u": Gaussian(center=(0.6,) * len(shape), width=0.5)}
    if n_fields > 1:
        sources["v"] = Constant(value=0.3)
    return NPDE(grid=grid, fields=fields, initial={}, end_time=1.0, linear=tuple(terms),
                sources=sources)


@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv_step_matches_euler(rng, case):
    """The convolution with boundary padding equals the Euler step."""
    npde = conv_npde(rng, *case)
    states = random_states(rng, npde)
    step = conv_step(npde, 0.1)
    result = image_to_state(npde, step(state_to_image(npde, states)))
    assert max_error(result, euler(npde, states, 0.1)) < TOLERANCE


def test_conv_step_unbatched_image(rng):
    """An image without a batch axis gives the same step."""
    npde = conv_npde(rng, *CONV_CASES["2d_every_side_different"])
    state = random_states(rng, npde, 1)[0]
    step = conv_step(npde, 0.1)
    result = image_to_state(npde, step(state_to_image(npde, state)))
    assert max_error(result, npde.euler_step(state, 0.1)) < TOLERANCE


@pytest.mark.parametrize("sides, kernel, mode", [
    ((PERIODIC, PERIODIC), (3,), "circular"),
    ((DIRICHLET, DIRICHLET), (5,), "zeros"),
    ((ZERO_FLUX, ZERO_FLUX), (3,), "replicate"),
])
def test_conv_step_uses_padding_mode(rng, sides, kernel, mode):
    """Uniform boundaries that torch pads the same way use the conv's padding_mode."""
    npde = conv_npde(rng, (6,), sides, [kernel], 1)
    step = conv_step(npde, 0.1)
    assert isinstance(step.pad, nn.Identity)
    assert step.conv.padding_mode == mode


@pytest.mark.parametrize("case", ["zero_flux_k5", "dirichlet_values", "dirichlet_and_zero_flux"])
def test_conv_step_pads_by_hand(rng, case):
    """Wide mirrors, non-zero Dirichlet values and mixed sides use BoundaryPad."""
    step = conv_step(conv_npde(rng, *CONV_CASES[case]), 0.1)
    assert isinstance(step.pad, BoundaryPad)
    assert step.conv.padding == (0,)


def test_conv_step_rejects_nonlocal_term(rng):
    """A non-local term is not a convolution."""
    npde = NPDE(grid=chain(4), fields=("u",), initial={}, end_time=1.0,
                nonlocal_terms=(random_nonlocal(rng, 4, "identity"),))
    with pytest.raises(ValueError, match="stencil"):
        conv_step(npde, 0.1)


def test_conv_step_rejects_obstacles(rng):
    """A convolution cannot skip obstacle nodes."""
    grid = Grid(shape=(3, 3), spacing=(1.0, 1.0), obstacles=frozenset({(1, 1)}),
                boundaries={s: ZERO_FLUX for s in ("x_low", "x_high", "y_low", "y_high")})
    npde = NPDE(grid=grid, fields=("u",), initial={}, end_time=1.0,
                linear=(LinearTerm(target="u", source="u", kernel=rng.normal(size=(3, 3))),))
    with pytest.raises(ValueError, match="obstacle"):
        conv_step(npde, 0.1)


# --- multilayer perceptron --------------------------------------------------------------


def random_mlp(rng, activations=("tanh", "relu", "identity"), sizes=(3, 5, 4, 2)):
    modules = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "identity": nn.Identity}
    layers = []
    for (n_in, n_out), activation in zip(zip(sizes, sizes[1:]), activations):
        layers += [nn.Linear(n_in, n_out), modules[activation]()]
    return randomize(nn.Sequential(*layers), rng)


@pytest.mark.parametrize("n_steps", [1, 2, 3, 5])
def test_mlp_steps_matches_euler(rng, n_steps):
    """Steps from any state, hidden layers included, equal the Euler steps."""
    npde = npde_from_torch(random_mlp(rng)).npde
    states = random_states(rng, npde)
    steps = mlp_steps(npde, 1.0, n_steps)
    assert max_error(steps(states), euler(npde, states, 1.0, n_steps)) < TOLERANCE


def test_mlp_steps_default_depth(rng):
    """The default number of steps is the number of layers."""
    npde = npde_from_torch(random_mlp(rng)).npde
    assert mlp_steps(npde).n_steps == 3


def test_mlp_steps_to_sequential(rng):
    """The layers read back as the original MLP."""
    module = random_mlp(rng, ("sigmoid", "tanh", "relu"))
    inputs = torch.as_tensor(rng.normal(size=(4, 3)))
    sequential = mlp_steps(npde_from_torch(module).npde).to_sequential()
    assert max_error(sequential(inputs), module(inputs)) < TOLERANCE


def test_mlp_steps_rejects_recurrent_weights(rng):
    """A full W feeds every row back into itself, which is no MLP."""
    npde = NPDE(grid=chain(4), fields=("u",), initial={}, end_time=1.0,
                linear=(decay("u", 1.0),), nonlocal_terms=(random_nonlocal(rng, 4, "tanh"),))
    with pytest.raises(ValueError, match="block-subdiagonal"):
        mlp_steps(npde, 1.0)


# --- import from torch ------------------------------------------------------------------


@pytest.mark.parametrize("n_in, n_out", [(4, 4), (5, 2), (2, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_import_linear(rng, n_in, n_out, bias):
    """nn.Linear is one dense Euler step."""
    module = randomize(nn.Linear(n_in, n_out, bias=bias), rng)
    inputs = torch.as_tensor(rng.normal(size=(3, n_in)))
    imported = npde_from_torch(module)
    assert imported.n_steps == 1
    assert max_error(imported.run(inputs), module(inputs)) < TOLERANCE


@pytest.mark.parametrize("activation", [nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.Hardtanh()])
def test_import_dense_layer_with_activation(rng, activation):
    """nn.Linear and an activation are one dense step, which dense_step rebuilds."""
    module = randomize(nn.Sequential(nn.Linear(4, 3), activation), rng)
    inputs = torch.as_tensor(rng.normal(size=(3, 4)))
    imported = npde_from_torch(module)
    layer = dense_step(imported.npde, imported.dt)
    assert max_error(imported.run(inputs), module(inputs)) < TOLERANCE
    assert max_error(imported.read(layer(imported.load(inputs))), module(inputs)) < TOLERANCE


@pytest.mark.parametrize("activations", [
    ("tanh", "relu", "identity"),
    ("sigmoid", "sigmoid", "tanh"),
    ("relu", "tanh", "sigmoid"),
])
def test_import_mlp(rng, activations):
    """An MLP runs as one Euler step per layer on n_in + n_1 + ... + n_out nodes."""
    module = random_mlp(rng, activations)
    inputs = torch.as_tensor(rng.normal(size=(4, 3)))
    imported = npde_from_torch(module)
    assert imported.npde.n_state == 3 + 5 + 4 + 2
    assert imported.n_steps == 3
    assert max_error(imported.run(inputs), module(inputs)) < TOLERANCE


def test_import_mlp_layout(rng):
    """Input nodes carry no term, and each layer has a decay term and an activation term."""
    imported = npde_from_torch(random_mlp(rng, sizes=(3, 5, 2), activations=("relu", "tanh")))
    decay_term, layer_term = imported.npde.nonlocal_terms[:2]
    assert not imported.npde.linear
    assert np.array_equal(np.diag(decay_term.weight), [0.0] * 3 + [-1.0] * 5 + [0.0] * 2)
    assert layer_term.activation == "relu"
    assert np.flatnonzero(layer_term.rows).tolist() == [3, 4, 5, 6, 7]
    assert not any(term.rows[:3].any() for term in imported.npde.nonlocal_terms)


CONV_MODULES = {
    "1d_zeros": (nn.Conv1d(1, 1, 3, padding=1), (7,)),
    "1d_circular_k5": (nn.Conv1d(2, 3, 5, padding=2, padding_mode="circular"), (6,)),
    "1d_replicate": (nn.Conv1d(3, 2, 3, padding="same", padding_mode="replicate"), (5,)),
    "1d_zeros_dilated": (nn.Conv1d(2, 2, 3, padding=2, dilation=2), (7,)),
    "1d_groups": (nn.Conv1d(4, 2, 3, padding=1, groups=2, bias=False), (6,)),
    "2d_zeros": (nn.Conv2d(2, 3, 3, padding=1), (4, 5)),
    "2d_circular": (nn.Conv2d(3, 2, (5, 3), padding="same", padding_mode="circular"), (5, 4)),
    "2d_replicate": (nn.Conv2d(2, 2, 3, padding=1, padding_mode="replicate"), (4, 3)),
}


@pytest.mark.parametrize("module, shape", CONV_MODULES.values(), ids=CONV_MODULES.keys())
def test_import_conv(rng, module, shape):
    """A 'same' convolution is one Euler step, which conv_step rebuilds."""
    module = randomize(module, rng)
    inputs = torch.as_tensor(rng.normal(size=(2, module.in_channels, *shape)))
    imported = npde_from_torch(module, spatial_shape=shape)
    expected = module(inputs)
    step = conv_step(imported.npde, imported.dt)
    rebuilt = image_to_state(imported.npde, step(state_to_image(imported.npde,
                                                                imported.load(inputs))))
    assert max_error(imported.run(inputs), expected) < TOLERANCE
    assert max_error(imported.read(rebuilt), expected) < TOLERANCE


def test_import_conv_in_sequential(rng):
    """A convolution alone in nn.Sequential imports like the bare convolution."""
    module = randomize(nn.Sequential(nn.Conv1d(1, 1, 3, padding=1)), rng)
    inputs = torch.as_tensor(rng.normal(size=(1, 1, 5)))
    imported = npde_from_torch(module, spatial_shape=(5,))
    assert max_error(imported.run(inputs), module(inputs)) < TOLERANCE


IMPORTED = {
    "linear": (lambda: nn.Linear(3, 4), None),
    "dense_sigmoid": (lambda: nn.Sequential(nn.Linear(4, 3), nn.Sigmoid()), None),
    "mlp": (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(),
                                  nn.Linear(4, 2)), None),
    "conv1d": (lambda: nn.Conv1d(2, 2, 3, padding=1), (5,)),
    "conv2d_circular": (lambda: nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular"), (4, 4)),
    "conv2d_replicate": (lambda: nn.Conv2d(2, 1, 3, padding=1, padding_mode="replicate"), (3, 4)),
}


@pytest.mark.parametrize("make, shape", IMPORTED.values(), ids=IMPORTED.keys())
def test_imported_npde_builds_netlist(rng, make, shape):
    """The builder accepts each imported NPDE and the netlist writes."""
    module = randomize(make(), rng)
    imported = npde_from_torch(module, spatial_shape=shape)
    npde = imported.with_input(rng.normal(size=imported.input_shape))
    graph = build_circuit(npde, CircuitMapping(time_scale_s=1e-6))
    analysis = TransientAnalysis(step_s=1e-8, stop_s=1e-6 * imported.n_steps, max_step_s=1e-8)
    text = write_netlist(graph, analysis, title="imported")
    assert text.endswith(".end\n")


def test_with_input_sets_initial_condition(rng):
    """with_input puts the sample into the initial state and zeros elsewhere."""
    imported = npde_from_torch(randomize(random_mlp(rng), rng))
    sample = rng.normal(size=3)
    initial = imported.with_input(sample).initial_state()
    assert np.array_equal(initial[:3], sample)
    assert not initial[3:].any()


REJECTED = {
    "activation_gelu": (lambda: nn.Sequential(nn.Linear(2, 2), nn.GELU()), None,
                        r"layer 1 \(GELU\).*nn.Tanh"),
    "lstm": (lambda: nn.LSTM(2, 2), None, "LSTM.*nn.Linear"),
    "conv3d": (lambda: nn.Conv3d(1, 1, 3, padding=1), (3, 3, 3), "Conv3d.*supported"),
    "conv_in_mlp": (lambda: nn.Sequential(nn.Linear(2, 2), nn.Conv1d(1, 1, 3)), None,
                    r"layer 1 \(Conv1d\)"),
    "stride": (lambda: nn.Conv1d(1, 1, 3, padding=1, stride=2), (6,), "stride"),
    "even_kernel": (lambda: nn.Conv1d(1, 1, 4, padding="same"), (6,), "odd"),
    "valid_padding": (lambda: nn.Conv1d(1, 1, 3), (6,), "padding"),
    "reflect": (lambda: nn.Conv1d(1, 1, 3, padding=1, padding_mode="reflect"), (6,), "reflect"),
    "wide_replicate": (lambda: nn.Conv1d(1, 1, 5, padding=2, padding_mode="replicate"), (6,),
                       "replicate"),
    "no_spatial_shape": (lambda: nn.Conv2d(1, 1, 3, padding=1), None, "spatial_shape"),
    "two_activations": (lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh()), None,
                        r"layer 2 \(Tanh\).*another activation"),
    "activation_first": (lambda: nn.Sequential(nn.Tanh(), nn.Linear(2, 2)), None,
                         r"layer 0 \(Tanh\)"),
    "relu6": (lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU6()), None, r"ReLU6"),
}


@pytest.mark.parametrize("make, shape, message", REJECTED.values(), ids=REJECTED.keys())
def test_import_rejects(make, shape, message):
    """Unsupported layers and settings raise ValueError naming the layer."""
    with pytest.raises(ValueError, match=message):
        npde_from_torch(make(), spatial_shape=shape)
