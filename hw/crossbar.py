"""Signed weight matrices as memristor crossbars, in numpy.

A dense weight matrix ``W`` of shape ``(n_out, n_in)`` (rows are outputs) becomes a
crossbar whose rows are inputs and whose columns are physical bit lines. Every
conductance array here has shape ``(n_in, n_columns)``: entry ``[i, c]`` is the
device between input row ``i`` and column ``c``. With the columns held at virtual
ground, input voltages ``V`` give the column currents ``I = G^T V``.

Two schemes represent signed weights with positive conductances:

* ``"differential"``: output ``o`` uses columns ``2 o`` (G+) and ``2 o + 1`` (G-),
  and ``W[o, i] = (G[i, 2 o] - G[i, 2 o + 1]) / scale``.
* ``"reference"``: output ``o`` uses column ``o``, and every device of one shared
  column ``n_out`` is at the mid conductance ``g_ref = (g_min + g_max) / 2``,
  so ``W[o, i] = (G[i, o] - G[i, n_out]) / scale``.

``scale`` is in siemens per weight unit. Both schemes store, per output, the column
whose current is added (``plus_columns``) and the column whose current is
subtracted (``minus_columns``), so every conversion back to weights is the same
subtraction.
"""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np
from numpy.typing import ArrayLike

from npdehw.errors import SpecError
from npdehw.hw.devices import (
    DeviceSpec,
    ProgrammedConductances,
    perturb_conductances,
    quantize_conductance,
)

__all__ = [
    "PROGRAMMING_TABLE_COLUMNS",
    "SCHEMES",
    "CrossbarMapping",
    "CrossbarTile",
    "apply_nonidealities",
    "ideal_column_currents",
    "map_weights",
    "programming_table",
    "programming_table_csv",
    "tile_mapping",
    "tiled_column_currents",
    "weights_from_currents",
]

SCHEMES = ("differential", "reference")
ROLE_PLUS, ROLE_MINUS, ROLE_REFERENCE = "+", "-", "ref"
PROGRAMMING_TABLE_COLUMNS = (
    "tile", "row", "column", "tile_row", "tile_column", "role", "output",
    "target_s", "level_index", "programmed_s",
)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class CrossbarMapping:
    """A weight matrix laid out as crossbar conductances.

    Attributes:
        scheme: ``"differential"`` or ``"reference"``.
        device: the device the conductances were mapped for.
        weight: the mapped weight matrix, shape ``(n_out, n_in)``.
        scale_s_per_weight: siemens of conductance difference per weight unit.
        g_ref_s: the reference conductance in siemens (reference scheme), or None.
        column_roles: role of each physical column: ``"+"``, ``"-"`` or ``"ref"``.
        column_outputs: output index of each physical column, -1 for the shared
            reference column. Shape ``(n_columns,)``.
        plus_columns: per output, the column whose current is added.
            Shape ``(n_out,)``.
        minus_columns: per output, the column whose current is subtracted (its G-
            column, or the shared reference column). Shape ``(n_out,)``.
        target_s: unquantized conductances in siemens, shape ``(n_in, n_columns)``.
        quantized: whether the targets were rounded to the device levels.
        level_index: level of each device, shape ``(n_in, n_columns)``, or None
            when not quantized.
        programmed_s: conductances to program in siemens: the nearest level when
            quantized, else ``target_s``. Shape ``(n_in, n_columns)``.
    """

    scheme: str
    device: DeviceSpec
    weight: np.ndarray
    scale_s_per_weight: float
    g_ref_s: float | None
    column_roles: tuple[str, ...]
    column_outputs: np.ndarray
    plus_columns: np.ndarray
    minus_columns: np.ndarray
    target_s: np.ndarray
    quantized: bool
    level_index: np.ndarray | None
    programmed_s: np.ndarray

    @property
    def n_inputs(self) -> int:
        """Number of crossbar rows (inputs)."""
        return self.weight.shape[1]

    @property
    def n_outputs(self) -> int:
        """Number of outputs (rows of the weight matrix)."""
        return self.weight.shape[0]

    @property
    def n_columns(self) -> int:
        """Number of physical crossbar columns."""
        return len(self.column_roles)

    def effective_weight(self, conductances_s: ArrayLike | None = None) -> np.ndarray:
        """Convert crossbar conductances back to the weights they realize.

        Args:
            conductances_s: conductances in siemens, shape ``(n_in, n_columns)``,
                for example perturbed ones. Defaults to ``programmed_s``.

        Returns:
            The weight matrix, shape ``(n_out, n_in)``.
        """
        if conductances_s is None:
            conductances = self.programmed_s
        else:
            conductances = _check_conductances(self, conductances_s)
        plus = conductances[:, self.plus_columns]
        minus = conductances[:, self.minus_columns]
        return (plus - minus).T / self.scale_s_per_weight


def map_weights(
    weight: ArrayLike,
    device: DeviceSpec,
    scheme: str = "differential",
    quantize: bool = True,
) -> CrossbarMapping:
    """Map a signed weight matrix onto crossbar conductances.

    ``scale`` is chosen so that the largest ``|W|`` uses the full range: it becomes
    a difference of ``g_max - g_min`` in the differential scheme and of
    ``(g_max - g_min) / 2`` from ``g_ref`` in the reference scheme. An all-zero
    matrix gets the scale of a largest ``|W|`` of 1.

    Differential: a positive weight goes into G+ as ``g_min + scale * W`` with
    G- at ``g_min``, and a negative weight the other way round. Reference:
    ``G = g_ref + scale * W`` and the reference column is ``g_ref``.

    Args:
        weight: real matrix of shape ``(n_out, n_in)``, rows are outputs.
        device: conductance range and level set.
        scheme: ``"differential"`` or ``"reference"``.
        quantize: round the targets to the nearest device level. The reference
            column is rounded too, and with an even number of linear levels the mid
            conductance is not a level, so that column is half a step off ``g_ref``.

    Returns:
        The mapping. Its conductance arrays have shape ``(n_in, n_columns)``.

    Raises:
        SpecError: If the weight is not a non-empty finite 2-D matrix, or the
            scheme is unknown.
    """
    matrix = _check_weight(weight)
    if scheme not in SCHEMES:
        raise SpecError("scheme", f"unknown scheme {scheme!r}. Use one of {SCHEMES}.")
    if not isinstance(device, DeviceSpec):
        raise TypeError(f"device must be a DeviceSpec, got {type(device).__name__}")
    n_out, n_in = matrix.shape
    g_min, g_max = device.g_min_s, device.g_max_s
    largest = float(np.max(np.abs(matrix)))
    if largest == 0.0:
        largest = 1.0

    if scheme == "differential":
        scale = (g_max - g_min) / largest
        positive = np.maximum(matrix, 0.0)
        negative = np.maximum(-matrix, 0.0)
        target = np.empty((n_in, 2 * n_out))
        target[:, 0::2] = g_min + scale * positive.T
        target[:, 1::2] = g_min + scale * negative.T
        roles = (ROLE_PLUS, ROLE_MINUS) * n_out
        column_outputs = np.repeat(np.arange(n_out), 2)
        plus_columns = 2 * np.arange(n_out)
        minus_columns = plus_columns + 1
        g_ref = None
    else:
        scale = (g_max - g_min) / (2.0 * largest)
        g_ref = 0.5 * (g_min + g_max)
        target = np.empty((n_in, n_out + 1))
        target[:, :n_out] = g_ref + scale * matrix.T
        target[:, n_out] = g_ref
        roles = (ROLE_PLUS,) * n_out + (ROLE_REFERENCE,)
        column_outputs = np.append(np.arange(n_out), -1)
        plus_columns = np.arange(n_out)
        minus_columns = np.full(n_out, n_out)
    # Round-off in g + scale * W can put a target just outside the range.
    target = np.clip(target, g_min, g_max)

    # NOTE: with an even number of linear levels the reference column lands half a
    # step from g_ref, which roughly doubles the weight error (odd levels avoid it).
    if quantize:
        level_index, programmed = quantize_conductance(target, device)
    else:
        level_index, programmed = None, target.copy()
    return CrossbarMapping(
        scheme=scheme, device=device, weight=matrix, scale_s_per_weight=scale,
        g_ref_s=g_ref, column_roles=roles, column_outputs=column_outputs,
        plus_columns=plus_columns, minus_columns=minus_columns, target_s=target,
        quantized=bool(quantize), level_index=level_index, programmed_s=programmed,
    )


def _check_weight(weight: ArrayLike) -> np.ndarray:
    try:
        matrix = np.array(weight, dtype=float)
    except (TypeError, ValueError) as err:
        raise SpecError("weight", f"must be a real matrix, got {weight!r}: "
                        f"{err}") from err
    if matrix.ndim != 2:
        raise SpecError("weight", f"must be a 2-D matrix of shape (n_out, n_in), got "
                        f"shape {matrix.shape}")
    if matrix.size == 0:
        raise SpecError("weight", f"is empty (shape {matrix.shape}). Give at least one "
                        "output and one input.")
    bad = ~np.isfinite(matrix)
    if np.any(bad):
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise SpecError("weight", f"entry {float(matrix[row, column])!r} at index "
                        f"({row}, {column}) is not finite. Replace NaN and infinite "
                        "weights before mapping.")
    return matrix


def _check_conductances(
    mapping: CrossbarMapping, conductances_s: ArrayLike
) -> np.ndarray:
    conductances = np.asarray(conductances_s, dtype=float)
    expected = (mapping.n_inputs, mapping.n_columns)
    if conductances.shape != expected:
        raise ValueError(f"conductances have shape {conductances.shape}, but the "
                         f"mapping needs (n_in, n_columns) = {expected}")
    return conductances


def apply_nonidealities(
    mapping: CrossbarMapping, device: DeviceSpec | None, seed: int
) -> ProgrammedConductances:
    """Perturb the programmed conductances with programming noise and stuck-at faults.

    See ``npdehw.hw.devices.perturb_conductances`` for the model. The same seed
    gives the same result.

    Args:
        mapping: the crossbar whose ``programmed_s`` is perturbed.
        device: noise level and fault rates, or None for ``mapping.device``. Its
            conductance range must equal the mapping's.
        seed: seed for ``numpy.random.default_rng``.

    Returns:
        Perturbed conductances of shape ``(n_in, n_columns)`` and the masks of
        devices stuck at g_min and at g_max.
    """
    device = mapping.device if device is None else device
    mapped_range = (mapping.device.g_min_s, mapping.device.g_max_s)
    if (device.g_min_s, device.g_max_s) != mapped_range:
        raise ValueError(
            f"device range [{device.g_min_s!r}, {device.g_max_s!r}] S differs from the "
            f"range the weights were mapped for, [{mapping.device.g_min_s!r}, "
            f"{mapping.device.g_max_s!r}] S. Map the weights with this device."
        )
    return perturb_conductances(mapping.programmed_s, device, seed)


def ideal_column_currents(
    conductances_s: ArrayLike, input_voltages_v: ArrayLike
) -> np.ndarray:
    """Return the column currents ``G^T V`` in amperes, columns at virtual ground.

    Args:
        conductances_s: crossbar conductances, shape ``(n_in, n_columns)``.
        input_voltages_v: row voltages, shape ``(n_in,)`` or ``(n_in, batch)``.

    Returns:
        Currents of shape ``(n_columns,)`` or ``(n_columns, batch)``.
    """
    conductances = np.asarray(conductances_s, dtype=float)
    voltages = np.asarray(input_voltages_v, dtype=float)
    if conductances.ndim != 2:
        raise ValueError(f"conductances must be a (n_in, n_columns) matrix, got shape "
                         f"{conductances.shape}")
    if voltages.ndim not in (1, 2) or voltages.shape[0] != conductances.shape[0]:
        n_in = conductances.shape[0]
        raise ValueError(f"input voltages must have shape ({n_in},) or "
                         f"({n_in}, batch), got {voltages.shape}")
    return conductances.T @ voltages


def weights_from_currents(
    mapping: CrossbarMapping,
    column_currents_a: ArrayLike,
    *,
    voltage_scale_v: float = 1.0,
) -> np.ndarray:
    """Convert column currents into the outputs ``W x`` they represent.

    Output ``o`` is ``(I[plus_columns[o]] - I[minus_columns[o]]) / (scale *
    voltage_scale_v)``, when the inputs were applied as ``V = voltage_scale_v * x``.

    Args:
        mapping: the crossbar that produced the currents.
        column_currents_a: currents in amperes, shape ``(n_columns,)`` or
            ``(n_columns, batch)``.
        voltage_scale_v: volts per unit of the input ``x``.

    Returns:
        The outputs, shape ``(n_out,)`` or ``(n_out, batch)``.
    """
    currents = np.asarray(column_currents_a, dtype=float)
    if currents.ndim not in (1, 2) or currents.shape[0] != mapping.n_columns:
        raise ValueError(f"column currents must have shape ({mapping.n_columns},) or "
                         f"({mapping.n_columns}, batch), got {currents.shape}")
    if not (np.isfinite(voltage_scale_v) and voltage_scale_v > 0):
        raise SpecError("voltage_scale_v", f"must be positive and finite, got "
                        f"{voltage_scale_v!r}")
    difference = currents[mapping.plus_columns] - currents[mapping.minus_columns]
    return difference / (mapping.scale_s_per_weight * voltage_scale_v)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CrossbarTile:
    """One physical crossbar array: a block of rows (inputs) and columns.

    Ranges are half-open, as in Python slices.

    Attributes:
        index: position in the list of tiles.
        row_start: first input row of the tile.
        row_stop: one past the last input row.
        column_start: first physical column of the tile.
        column_stop: one past the last physical column.
    """

    index: int
    row_start: int
    row_stop: int
    column_start: int
    column_stop: int

    @property
    def rows(self) -> slice:
        """Slice of the input rows."""
        return slice(self.row_start, self.row_stop)

    @property
    def columns(self) -> slice:
        """Slice of the physical columns."""
        return slice(self.column_start, self.column_stop)

    @property
    def shape(self) -> tuple[int, int]:
        """Number of rows and columns of the tile."""
        return (self.row_stop - self.row_start, self.column_stop - self.column_start)

    def partial_currents(self, conductances_s: ArrayLike,
                         input_voltages_v: ArrayLike) -> np.ndarray:
        """Return this tile's contribution to its columns' currents.

        Args:
            conductances_s: the full crossbar, shape ``(n_in, n_columns)``.
            input_voltages_v: the full input, shape ``(n_in,)`` or ``(n_in, batch)``.

        Returns:
            Currents in amperes, shape ``(tile columns,)`` or ``(tile columns, batch)``.
        """
        conductances = np.asarray(conductances_s, dtype=float)
        voltages = np.asarray(input_voltages_v, dtype=float)
        return ideal_column_currents(conductances[self.rows, self.columns],
                                     voltages[self.rows])


def tile_mapping(
    mapping: CrossbarMapping, max_rows: int = 64, max_cols: int = 64
) -> tuple[CrossbarTile, ...]:
    """Split a crossbar into tiles of at most ``max_rows`` by ``max_cols`` devices.

    Rows are cut every ``max_rows``. Columns are cut at output boundaries, so the
    G+ and G- columns of one output stay in the same tile. With an odd
    ``max_cols`` the differential tiles are one column narrower. The shared
    reference column is the last column and goes into the last column tile. Tiles
    at the edges may be smaller. Tiles are ordered by column block, then by row
    block.

    Raises:
        SpecError: If ``max_rows`` < 1 or ``max_cols`` cannot hold one output.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) \
            or max_rows < 1:
        raise SpecError("max_rows", f"must be an integer >= 1, got {max_rows!r}")
    group_width = 2 if mapping.scheme == "differential" else 1
    if isinstance(max_cols, bool) or not isinstance(max_cols, (int, np.integer)) \
            or max_cols < group_width:
        raise SpecError("max_cols", f"must be an integer >= {group_width} so one "
                        f"output's columns fit in a tile ({mapping.scheme} scheme), "
                        f"got {max_cols!r}")
    step = (max_cols // group_width) * group_width
    column_bounds = [(start, min(start + step, mapping.n_columns))
                     for start in range(0, mapping.n_columns, step)]
    row_bounds = [(start, min(start + max_rows, mapping.n_inputs))
                  for start in range(0, mapping.n_inputs, max_rows)]
    tiles = []
    for column_start, column_stop in column_bounds:
        for row_start, row_stop in row_bounds:
            tiles.append(CrossbarTile(index=len(tiles), row_start=row_start,
                                      row_stop=row_stop, column_start=column_start,
                                      column_stop=column_stop))
    return tuple(tiles)


def tiled_column_currents(
    conductances_s: ArrayLike, tiles: tuple[CrossbarTile, ...] | list[CrossbarTile],
    input_voltages_v: ArrayLike,
) -> np.ndarray:
    """Return the column currents as the sum of the tiles' partial currents.

    Shapes are those of ``ideal_column_currents``. Columns that no tile covers
    carry zero current.
    """
    conductances = np.asarray(conductances_s, dtype=float)
    voltages = np.asarray(input_voltages_v, dtype=float)
    total = np.zeros((conductances.shape[1],) + voltages.shape[1:])
    for tile in tiles:
        total[tile.columns] += tile.partial_currents(conductances, voltages)
    return total


def programming_table(
    mapping: CrossbarMapping, tiles: tuple[CrossbarTile, ...] | list[CrossbarTile]
) -> list[dict]:
    """Return one row per device, ordered by tile, then row, then column.

    Keys are ``PROGRAMMING_TABLE_COLUMNS``. ``row`` (input) and ``column`` are
    global indices, and ``tile_row`` and ``tile_column`` the position inside the
    tile. ``role`` is ``"+"``, ``"-"`` or ``"ref"``, and ``output`` is None for the
    reference column. ``target_s`` and ``programmed_s`` are in siemens, and
    ``level_index`` is None when the mapping is not quantized.
    """
    rows = []
    for tile in tiles:
        for row in range(tile.row_start, tile.row_stop):
            for column in range(tile.column_start, tile.column_stop):
                output = int(mapping.column_outputs[column])
                level = None if mapping.level_index is None else int(
                    mapping.level_index[row, column])
                rows.append({
                    "tile": tile.index,
                    "row": row,
                    "column": column,
                    "tile_row": row - tile.row_start,
                    "tile_column": column - tile.column_start,
                    "role": mapping.column_roles[column],
                    "output": None if output < 0 else output,
                    "target_s": float(mapping.target_s[row, column]),
                    "level_index": level,
                    "programmed_s": float(mapping.programmed_s[row, column]),
                })
    return rows


def programming_table_csv(
    mapping: CrossbarMapping, tiles: tuple[CrossbarTile, ...] | list[CrossbarTile]
) -> str:
    """Return the programming table as CSV text, header ``PROGRAMMING_TABLE_COLUMNS``.

    Conductances are written with ``repr`` so they read back as the same floats. An
    empty field means None (no output for the reference column, no level when
    unquantized).
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PROGRAMMING_TABLE_COLUMNS,
                            lineterminator="\n")
    writer.writeheader()
    for row in programming_table(mapping, tiles):
        writer.writerow({key: _csv_field(value) for key, value in row.items()})
    return buffer.getvalue()


def _csv_field(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)
