"""Torch modules that compute one forward Euler step of an NPDE.

One step ``u' = u + dt (A u + b + sum_t mask_t act_t(W_t u + b_t) + f(u))`` reads as a
network layer, where ``A u + b`` is the linear part (stencils, Dirichlet ghosts,
sources and non-local terms with the identity activation):

- ``dense_step``: with ``I + dt A = 0`` (no diffusion, decay ``gamma = 1 / dt``),
  ``dt = 1`` and one activation, the step is ``u' = act(W u + b)``;
- ``residual_step``: any NPDE, as ``u + dt (...)`` with an explicit skip connection;
- ``conv_step``: stencil terms only, as a convolution whose padding follows the
  boundary conditions;
- ``recurrent_cell``: the residual step with an input ``x`` added as a source;
- ``mlp_steps``: repeated steps of an NPDE whose rows either hold their value
  (the inputs) or are dense-layer rows that read only earlier layers, so ``W`` is
  block-subdiagonal.

All modules are float64 and act on states shaped ``(..., n_state)`` in the NPDE's
field-major layout, except ``ConvStep``, which acts on images shaped
``(..., n_fields, *grid.shape)`` (see ``state_to_image``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from npdehw.models.grid import AXES
from npdehw.models.npde import ACTIVATIONS, NPDE

__all__ = [
    "BoundaryPad",
    "ConvStep",
    "MLPSteps",
    "ReactionRates",
    "RecurrentCell",
    "ResidualStep",
    "activation_module",
    "conv_step",
    "dense_step",
    "image_to_state",
    "mlp_steps",
    "recurrent_cell",
    "residual_step",
    "state_to_image",
]

DTYPE = torch.float64

# Relative size below which an entry of I + dt A counts as zero. Cancellations such as
# 1 + dt * (-1 / dt) leave a few units in the last place, far below this.
_ZERO_TOLERANCE = 1e-13


def activation_module(name: str) -> nn.Module:
    """Return the torch layer of an activation in ``ACTIVATIONS``.

    ``pwl_sat(x) = 0.5 (|x + 1| - |x - 1|)`` is ``nn.Hardtanh(-1, 1)``.
    """
    modules = {
        "identity": nn.Identity,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "relu": nn.ReLU,
        "pwl_sat": lambda: nn.Hardtanh(-1.0, 1.0),
    }
    if name not in modules:
        raise ValueError(f"unknown activation {name!r}: use one of {ACTIVATIONS}")
    return modules[name]()


def _activation_at_zero(name: str) -> float:
    return float(activation_module(name)(torch.zeros((), dtype=DTYPE)))


def _linear(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], dtype=DTYPE)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=DTYPE))
        layer.bias.copy_(torch.as_tensor(bias, dtype=DTYPE))
    return layer


def _check_dt(dt) -> float:
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
    return dt


def _affine_parts(npde: NPDE):
    """Return ``(A, b, terms)``: the dense linear part and the non-identity non-local terms."""
    matrix, constant = npde.linear_operator()
    matrix = matrix.toarray()
    constant = np.array(constant, dtype=float)
    nonlinear = []
    for term in npde.nonlocal_terms:
        if term.activation == "identity":
            matrix += np.where(term.rows[:, None], term.weight, 0.0)
            constant += np.where(term.rows, term.bias, 0.0)
        else:
            nonlinear.append(term)
    return matrix, constant, nonlinear


def _step_affine(npde: NPDE, dt: float):
    """Return ``(M, d, terms, negligible)`` with ``u' = M u + d + dt * nonlinear``.

    ``negligible(values)`` returns True where an entry of ``M`` is zero up to rounding.
    """
    matrix, constant, terms = _affine_parts(npde)
    step_matrix = np.eye(npde.n_state) + dt * matrix
    scale = max(1.0, float(np.abs(dt * matrix).max(initial=0.0)))

    def negligible(values):
        return np.abs(values) <= _ZERO_TOLERANCE * scale

    return step_matrix, dt * constant, terms, negligible


def _reject_reactions(npde: NPDE, builder: str):
    if npde.reactions:
        labels = [term.label for term in npde.reactions]
        raise ValueError(f"{builder}: reaction terms {labels} are not dense layers. Use "
                         "residual_step, which evaluates them in a branch")


def _covered_rows(terms, builder: str) -> np.ndarray:
    """Return the index of the term that owns each row, or -1. Two terms may not share a row."""
    owner = np.full(len(terms[0].bias) if terms else 0, -1)
    for k, term in enumerate(terms):
        shared = np.flatnonzero(term.rows & (owner >= 0))
        if shared.size:
            raise ValueError(f"{builder}: rows {shared[:10].tolist()} take both "
                             f"{terms[owner[shared[0]]].label!r} and {term.label!r}, a sum "
                             "of two activations that no single dense layer computes. Use "
                             "residual_step")
        owner[term.rows] = k
    return owner


def _rows_text(rows) -> str:
    rows = list(rows)
    return f"{rows[:10]}{' ...' if len(rows) > 10 else ''}"


# --- dense layer ------------------------------------------------------------------------


def dense_step(npde: NPDE, dt: float = 1.0) -> nn.Sequential:
    """Return ``nn.Sequential(nn.Linear, activation)`` computing one Euler step.

    A linear NPDE (no activation other than the identity) always gives an
    ``nn.Linear`` of ``I + dt A`` followed by ``nn.Identity``. Otherwise every row must
    lose its own value (decay ``gamma = 1 / dt``, no diffusion, couplings or sources),
    ``dt`` must be 1, and the non-identity non-local terms must share one activation
    and cover disjoint rows. Rows outside their masks need ``act(0) = 0``.

    Raises:
        ValueError: naming the condition that fails.
    """
    dt = _check_dt(dt)
    _reject_reactions(npde, "dense_step")
    step_matrix, step_constant, terms, negligible = _step_affine(npde, dt)
    if not terms:
        return nn.Sequential(_linear(step_matrix, step_constant), nn.Identity())
    activations = sorted({term.activation for term in terms})
    if len(activations) > 1:
        raise ValueError(f"dense_step: the non-local terms use several activations "
                         f"{activations}; a dense layer has one. Use residual_step or "
                         "mlp_steps")
    if dt != 1.0:
        raise ValueError(f"dense_step: needs dt = 1 so that u' = act(W u + b), got dt = {dt}")
    owner = _covered_rows(terms, "dense_step")
    linear_rows = ~np.all(negligible(step_matrix), axis=1) | (step_constant != 0.0)
    if linear_rows.any():
        raise ValueError(f"dense_step: rows {_rows_text(np.flatnonzero(linear_rows))} keep a "
                         "linear part (diffusion, couplings, a source or a decay other than 1/dt), "
                         "so u' is not act(W u + b). Use residual_step")
    activation = activations[0]
    if (owner < 0).any() and _activation_at_zero(activation) != 0.0:
        raise ValueError(f"dense_step: rows {_rows_text(np.flatnonzero(owner < 0))} lie "
                         f"outside every term's mask and step to 0, but {activation}(0) "
                         "is not 0. Use residual_step")
    weight = sum(np.where(term.rows[:, None], term.weight, 0.0) for term in terms)
    bias = sum(np.where(term.rows, term.bias, 0.0) for term in terms)
    return nn.Sequential(_linear(weight, bias), activation_module(activation))


# --- residual block and recurrent cell --------------------------------------------------


class ReactionRates(nn.Module):
    """The reaction terms of an NPDE, evaluated elementwise on states ``(..., n_state)``."""

    def __init__(self, npde: NPDE):
        super().__init__()
        self.slices = {name: npde.field_slice(name) for name in npde.fields}
        self.terms = [(npde.field_slice(term.target), term.expression.fields,
                       term.expression.to_torch()) for term in npde.reactions]

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        result = torch.zeros_like(state)
        for target, fields, function in self.terms:
            values = {name: state[..., self.slices[name]] for name in fields}
            result[..., target] = result[..., target] + function(values)
        return result


class ResidualStep(nn.Module):
    """``u' = u + dt (linear(u) + sum_t scatter_t branch_t(u) + reactions(u))``.

    Attributes:
        dt: the Euler step.
        linear: ``nn.Linear`` with weight ``A`` and bias ``b`` of the linear part.
        branches: one ``nn.Sequential(nn.Linear, activation)`` per non-identity
            non-local term, computing only the rows in its mask.
        reactions: a ``ReactionRates``, or None when the NPDE has no reaction.
    """

    def __init__(self, dt: float, linear: nn.Linear, branches, reactions):
        super().__init__()
        self.dt = dt
        self.linear = linear
        self.branches = nn.ModuleList(branch for _, branch in branches)
        for k, (rows, _) in enumerate(branches):
            self.register_buffer(f"rows_{k}", torch.as_tensor(rows, dtype=torch.long))
        self.reactions = reactions

    def rate(self, state: torch.Tensor) -> torch.Tensor:
        """Return du/dt at ``state``."""
        result = self.linear(state)
        for k, branch in enumerate(self.branches):
            result = result.index_add(-1, getattr(self, f"rows_{k}"), branch(state))
        if self.reactions is not None:
            result = result + self.reactions(state)
        return result

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return state + self.dt * self.rate(state)


def residual_step(npde: NPDE, dt: float) -> ResidualStep:
    """Return a ``ResidualStep`` computing one Euler step of any NPDE."""
    dt = _check_dt(dt)
    matrix, constant, terms = _affine_parts(npde)
    branches = []
    for term in terms:
        rows = np.flatnonzero(term.rows)
        layer = _linear(term.weight[rows], term.bias[rows])
        branches.append((rows, nn.Sequential(layer, activation_module(term.activation))))
    reactions = ReactionRates(npde) if npde.reactions else None
    return ResidualStep(dt, _linear(matrix, constant), branches, reactions)


class RecurrentCell(nn.Module):
    """``h' = step(h) + dt x``: a residual Euler step whose input enters as a source.

    Attributes:
        step: the ``ResidualStep`` of the NPDE (its own sources included).
        input_slice: the state entries ``x`` drives; None means the whole state.
    """

    def __init__(self, step: ResidualStep, input_slice: slice | None):
        super().__init__()
        self.step = step
        self.input_slice = input_slice

    def forward(self, hidden: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        if self.input_slice is None:
            drive = inputs
        else:
            drive = torch.zeros_like(hidden)
            drive[..., self.input_slice] = inputs
        return self.step(hidden) + self.step.dt * drive


def recurrent_cell(npde: NPDE, dt: float, input_field: str | None = None) -> RecurrentCell:
    """Return a ``RecurrentCell`` of ``npde``.

    With ``input_field`` the input has shape ``(..., n_nodes)`` and drives that field;
    without it the input has shape ``(..., n_state)``.
    """
    input_slice = None if input_field is None else npde.field_slice(input_field)
    return RecurrentCell(residual_step(npde, dt), input_slice)


# --- multilayer perceptron --------------------------------------------------------------


class MLPSteps(nn.Module):
    """``n_steps`` Euler steps of an NPDE whose rows are held inputs or dense-layer rows.

    Each step copies the held rows and computes every layer as
    ``layer_k(u[cols_k])`` into ``u[rows_k]`` at once, all from the previous state.

    Attributes:
        layers: one ``nn.Sequential(nn.Linear, activation)`` per group of rows that
            share a depth and an activation.
        depths: the depth of each layer, 1 for layers that read only held rows.
        n_steps: the number of Euler steps.
    """

    def __init__(self, hold, blocks, n_steps: int):
        super().__init__()
        self.register_buffer("hold", torch.as_tensor(hold, dtype=torch.long))
        self.layers = nn.ModuleList()
        self.depths = []
        for k, block in enumerate(blocks):
            self.layers.append(nn.Sequential(_linear(block["weight"], block["bias"]),
                                             activation_module(block["activation"])))
            self.register_buffer(f"rows_{k}", torch.as_tensor(block["rows"], dtype=torch.long))
            self.register_buffer(f"cols_{k}", torch.as_tensor(block["cols"], dtype=torch.long))
            self.depths.append(block["depth"])
        self.n_steps = n_steps

    def rows(self, k: int) -> torch.Tensor:
        return getattr(self, f"rows_{k}")

    def cols(self, k: int) -> torch.Tensor:
        return getattr(self, f"cols_{k}")

    def step(self, state: torch.Tensor) -> torch.Tensor:
        """Return one Euler step of ``state`` (shape ``(..., n_state)``)."""
        result = torch.zeros_like(state)
        result[..., self.hold] = state[..., self.hold]
        for k, layer in enumerate(self.layers):
            result[..., self.rows(k)] = layer(state[..., self.cols(k)])
        return result

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        for _ in range(self.n_steps):
            state = self.step(state)
        return state

    def to_sequential(self) -> nn.Sequential:
        """Return the MLP from the held rows to the deepest layer as one ``nn.Sequential``.

        Its input is ``state[..., hold]`` and its output the deepest layer's rows.

        Raises:
            ValueError: unless there is one layer per depth and each reads only the
                layer before it (the held rows for depth 1).
        """
        if sorted(self.depths) != list(range(1, len(self.depths) + 1)):
            raise ValueError(f"to_sequential: needs one layer per depth, got depths "
                             f"{sorted(self.depths)}")
        order = sorted(range(len(self.layers)), key=lambda k: self.depths[k])
        previous = self.hold.tolist()
        modules = []
        for k in order:
            position = {row: p for p, row in enumerate(previous)}
            cols = self.cols(k).tolist()
            if not set(cols) <= set(position):
                raise ValueError(f"to_sequential: the layer at depth {self.depths[k]} reads "
                                 "rows outside the layer before it, so the network is not "
                                 "a plain MLP")
            linear, activation = self.layers[k]
            weight = torch.zeros(linear.out_features, len(previous), dtype=DTYPE)
            weight[:, [position[c] for c in cols]] = linear.weight.detach()
            modules += [_linear(weight.numpy(), linear.bias.detach().numpy()), activation]
            previous = self.rows(k).tolist()
        return nn.Sequential(*modules)


def _layer_depths(support: np.ndarray, hold: np.ndarray) -> np.ndarray:
    """Return each row's depth: 0 when held, else 1 + the largest depth it reads."""
    depth = np.full(len(support), -1)
    depth[hold] = 0
    pending = [i for i in range(len(support)) if depth[i] < 0]
    while pending:
        ready = [i for i in pending if np.all(depth[support[i]] >= 0)]
        if not ready:
            raise ValueError(f"mlp_steps: rows {_rows_text(pending)} read each other in a "
                             "cycle, so W is not block-subdiagonal and the state never "
                             "settles to an MLP output. Use residual_step")
        for i in ready:
            depth[i] = 1 + int(depth[support[i]].max(initial=0))
        pending = [i for i in pending if depth[i] < 0]
    return depth


def mlp_steps(npde: NPDE, dt: float = 1.0, n_steps: int | None = None) -> MLPSteps:
    """Return an ``MLPSteps`` computing ``n_steps`` Euler steps of ``npde``.

    Each row must either hold its value (no term acts on it) or be a dense-layer row:
    ``u'_i = act(w_i . u + b_i)`` with decay ``1 / dt`` and nothing else for a
    non-identity activation (which also needs ``dt = 1``), or ``u'_i = m_i . u + d_i``
    with ``m_ii = 0`` for the identity. Rows may not read each other in a cycle.
    ``n_steps`` defaults to the depth of the deepest layer, after which the state no
    longer changes.

    Raises:
        ValueError: naming the rows that break a condition.
    """
    dt = _check_dt(dt)
    _reject_reactions(npde, "mlp_steps")
    step_matrix, step_constant, terms, negligible = _step_affine(npde, dt)
    step_matrix = np.where(negligible(step_matrix), 0.0, step_matrix)
    owner = _covered_rows(terms, "mlp_steps")
    n = npde.n_state
    identity = np.eye(n)
    hold = np.array([owner[i] < 0 and step_constant[i] == 0.0
                     and np.array_equal(step_matrix[i], identity[i]) for i in range(n)], bool)
    nonlinear = owner >= 0
    mixed = nonlinear & (np.any(step_matrix != 0.0, axis=1) | (step_constant != 0.0))
    if mixed.any():
        raise ValueError(f"mlp_steps: rows {_rows_text(np.flatnonzero(mixed))} add a linear "
                         "part to their activation (a decay other than 1/dt, diffusion, "
                         "couplings or a source), so they are not dense-layer rows. Use "
                         "residual_step")
    if nonlinear.any() and dt != 1.0:
        raise ValueError(f"mlp_steps: needs dt = 1 so that u' = act(W u + b), got dt = {dt}")
    support = step_matrix != 0.0
    for k, term in enumerate(terms):
        support[owner == k] = term.weight[owner == k] != 0.0
    support[hold] = False
    depth = _layer_depths(support, np.flatnonzero(hold))
    blocks = []
    for key in sorted({(depth[i], owner[i]) for i in range(n) if not hold[i]}):
        rows = np.flatnonzero((depth == key[0]) & (owner == key[1]) & ~hold)
        cols = np.flatnonzero(support[rows].any(axis=0))
        if cols.size == 0:
            cols = rows[:1]
        if key[1] < 0:
            weight, bias = step_matrix[np.ix_(rows, cols)], step_constant[rows]
            activation = "identity"
        else:
            term = terms[key[1]]
            weight, bias = term.weight[np.ix_(rows, cols)], term.bias[rows]
            activation = term.activation
        blocks.append({"rows": rows, "cols": cols, "weight": weight, "bias": bias,
                       "activation": activation, "depth": int(key[0])})
    if n_steps is None:
        n_steps = int(depth.max(initial=0))
    if n_steps < 0:
        raise ValueError(f"n_steps must be at least 0, got {n_steps}")
    return MLPSteps(np.flatnonzero(hold), blocks, int(n_steps))


# --- convolution ------------------------------------------------------------------------


def state_to_image(npde: NPDE, state: torch.Tensor) -> torch.Tensor:
    """Reshape states ``(..., n_state)`` to images ``(..., n_fields, *grid.shape)``."""
    return state.reshape(*state.shape[:-1], len(npde.fields), *npde.grid.shape)


def image_to_state(npde: NPDE, image: torch.Tensor) -> torch.Tensor:
    """Reshape images ``(..., n_fields, *grid.shape)`` to states ``(..., n_state)``."""
    return image.reshape(*image.shape[:image.ndim - npde.grid.ndim - 1], npde.n_state)


def _padded_sources(n: int, radius: int, low, high):
    """Return ``(index, ghost)`` for padded positions ``j = -radius .. n + radius - 1``.

    ``index`` is the node each position copies and ``ghost`` the Dirichlet value or
    NaN; the rules are those of ``npdehw.models.stencils.resolve_neighbour``.
    """
    index, ghost = [], []
    for j in range(-radius, n + radius):
        boundary = low if j < 0 else high
        if 0 <= j < n:
            index.append(j)
            ghost.append(math.nan)
        elif boundary.kind == "periodic":
            index.append(j % n)
            ghost.append(math.nan)
        elif boundary.kind == "zero_flux":
            mirrored = -j - 1 if j < 0 else 2 * n - 1 - j
            index.append(min(max(mirrored, 0), n - 1))
            ghost.append(math.nan)
        else:
            index.append(0)
            ghost.append(boundary.value)
    return index, ghost


class BoundaryPad(nn.Module):
    """Pads the last ``len(radii)`` axes of an image by the grid's boundary rules.

    Periodic sides wrap, zero-flux sides mirror about a wall half a spacing out (with
    the index clamped to the grid for pads wider than the grid), and Dirichlet sides
    take their value. Any radius and a different kind on every side work. The last
    axis is padded first, so at a corner where two Dirichlet sides meet the first
    axis's value wins, as in ``resolve_neighbour``.
    """

    def __init__(self, grid, radii: tuple[int, ...]):
        super().__init__()
        self.radii = tuple(radii)
        for axis, (n, radius) in enumerate(zip(grid.shape, radii)):
            name = AXES[axis]
            index, ghost = _padded_sources(n, radius, grid.boundaries[f"{name}_low"],
                                           grid.boundaries[f"{name}_high"])
            ghost = torch.tensor(ghost, dtype=DTYPE)
            self.register_buffer(f"index_{axis}", torch.tensor(index, dtype=torch.long))
            self.register_buffer(f"ghost_{axis}", ghost)
            self.register_buffer(f"is_ghost_{axis}", ~torch.isnan(ghost))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        ndim = len(self.radii)
        for axis in reversed(range(ndim)):
            if self.radii[axis] == 0:
                continue
            dim = axis - ndim
            image = image.index_select(dim, getattr(self, f"index_{axis}"))
            is_ghost = getattr(self, f"is_ghost_{axis}")
            if bool(is_ghost.any()):
                shape = [1] * image.ndim
                shape[dim] = -1
                ghost = torch.nan_to_num(getattr(self, f"ghost_{axis}")).to(image.dtype)
                image = torch.where(is_ghost.reshape(shape), ghost.reshape(shape), image)
        return image

    def extra_repr(self) -> str:
        return f"radii={self.radii}"


class ConvStep(nn.Module):
    """``u' = conv(pad(u)) + bias_map`` on images ``(..., n_fields, *grid.shape)``.

    Attributes:
        pad: a ``BoundaryPad``, or ``nn.Identity`` when ``conv`` pads by itself
            (``padding_mode`` ``circular``, ``zeros`` or ``replicate``).
        conv: ``nn.Conv1d`` or ``nn.Conv2d`` with weight ``delta + dt K`` and bias
            ``dt s`` for fields whose source is uniform.
        bias_map: ``dt s`` of the fields whose source varies over the grid, else None.
    """

    def __init__(self, pad: nn.Module, conv: nn.Module, bias_map: torch.Tensor | None):
        super().__init__()
        self.pad = pad
        self.conv = conv
        self.register_buffer("bias_map", bias_map)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        result = self.conv(self.pad(image))
        if self.bias_map is not None:
            result = result + self.bias_map
        return result


def _builtin_padding(grid, radii) -> str | None:
    """Return the torch ``padding_mode`` that equals the boundary rules, or None."""
    sides = [grid.boundaries[f"{AXES[axis]}_{end}"]
             for axis, radius in enumerate(radii) if radius > 0 for end in ("low", "high")]
    kinds = {side.kind for side in sides}
    if not sides:
        return "zeros"
    if kinds == {"periodic"} and all(r <= n for r, n in zip(radii, grid.shape)):
        return "circular"
    if kinds == {"dirichlet"} and all(side.value == 0.0 for side in sides):
        return "zeros"
    # torch's replicate copies the edge node into every ghost, which is the cell-centred
    # mirror only for the first ghost.
    if kinds == {"zero_flux"} and max(radii) <= 1:
        return "replicate"
    return None


def conv_step(npde: NPDE, dt: float) -> ConvStep:
    """Return a ``ConvStep`` computing one Euler step of an NPDE of stencil terms.

    Fields are channels. Sources become the conv bias or ``bias_map``, non-zero
    Dirichlet values become ghost values of the padding.

    Raises:
        ValueError: for non-local terms, reactions or obstacles.
    """
    dt = _check_dt(dt)
    if npde.nonlocal_terms or npde.reactions:
        raise ValueError(f"conv_step: needs stencil (linear local) terms only, but the NPDE "
                         f"has {len(npde.nonlocal_terms)} non-local and {len(npde.reactions)} "
                         "reaction term(s). Use residual_step")
    grid = npde.grid
    if grid.obstacles:
        raise ValueError(f"conv_step: a convolution cannot skip the {len(grid.obstacles)} "
                         "obstacle node(s). Use residual_step")
    n_fields = len(npde.fields)
    radii = tuple(max((term.kernel.shape[axis] // 2 for term in npde.linear), default=0)
                  for axis in range(grid.ndim))
    size = tuple(2 * r + 1 for r in radii)
    weight = np.zeros((n_fields, n_fields) + size)
    for term in npde.linear:
        if term.kernel.ndim != grid.ndim or any(s % 2 == 0 for s in term.kernel.shape):
            raise ValueError(f"conv_step: kernel of {term.label!r} has shape "
                             f"{term.kernel.shape}, but a {grid.ndim}-D grid needs odd sizes")
        window = tuple(slice(r - s // 2, r + s // 2 + 1)
                       for r, s in zip(radii, term.kernel.shape))
        target, source = npde.fields.index(term.target), npde.fields.index(term.source)
        weight[(target, source) + window] += dt * term.kernel
    for f in range(n_fields):
        weight[(f, f) + radii] += 1.0
    source = dt * npde.source_state().reshape((n_fields,) + grid.shape)
    uniform = np.array([np.all(channel == channel.flat[0]) for channel in source])
    bias = np.where(uniform, source.reshape(n_fields, -1)[:, 0], 0.0)
    bias_map = None
    if not uniform.all():
        bias_map = torch.as_tensor(np.where(uniform.reshape((-1,) + (1,) * grid.ndim), 0.0,
                                            source), dtype=DTYPE)
    mode = _builtin_padding(grid, radii)
    layer = {1: nn.Conv1d, 2: nn.Conv2d}[grid.ndim]
    conv = layer(n_fields, n_fields, size, padding=radii if mode else 0,
                 padding_mode=mode or "zeros", dtype=DTYPE)
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(weight, dtype=DTYPE))
        conv.bias.copy_(torch.as_tensor(bias, dtype=DTYPE))
    pad = nn.Identity() if mode else BoundaryPad(grid, radii)
    return ConvStep(pad, conv, bias_map)
