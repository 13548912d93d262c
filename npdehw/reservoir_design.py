"""The ``[reservoir]`` design: a reaction-diffusion grid as a reservoir on a time-series task.

Rates are in 1 / model time and times in model time units. The top-level
``[circuit]`` table converts them to the circuit as for NPDE designs. The keys of
``[reservoir]``:

- the grid: ``shape``, ``boundary`` (``zero_flux`` or ``periodic``), ``diffusion``,
  ``advection``, ``decay``, ``reaction`` (an expression in ``u``) and ``parameters``
  for the expression;
- the input: ``input_nodes`` (grid indices), ``input_weights`` (one coupling rate per
  node, negative for the inverted drive), ``input_offset`` and ``input_gain``;
- the run: ``sample_time`` (hold of each input sample), ``steps_per_sample`` (twin
  steps and the largest ngspice step per sample), ``washout``, ``train`` and ``test``
  (sample counts), ``ridge`` (readout regularization), ``seed`` (the task's inputs);
- ``task``: ``{ kind = "narma", order = 10 }``.

The task series is generated while parsing, so a diverging series is reported as
invalid input before any simulation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from npdehw.design import parse_mapping
from npdehw.errors import CircuitError, SpecError
from npdehw.hw.mapping import CircuitMapping
from npdehw.models.expressions import ExpressionError, parse
from npdehw.models.narma import NarmaDivergence, narma_series
from npdehw.models.reservoir import ReservoirSpec
from npdehw.models.series_readout import SeriesSplit
from npdehw.tomlkeys import Table

__all__ = ["MAX_NODE_STEPS", "MAX_SAMPLES", "MAX_TWIN_STEPS", "ReservoirDesign",
           "parse_reservoir_design"]

MAX_SAMPLES = 20_000
MAX_TWIN_STEPS = 1_000_000
MAX_NODE_STEPS = 20_000_000
"""Largest nodes times steps: ngspice returns about one point per step and node, so
this bounds its float64 output near 160 MB."""
TASKS = ("narma",)
MAX_ORDER = 30


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ReservoirDesign:
    """A validated reservoir design with its task series.

    Attributes:
        spec: the reservoir grid and its input coupling.
        mapping: scales and part series of the circuit.
        sample_time: model time each input sample is held.
        steps_per_sample: twin steps per sample; also the ngspice maximum step.
        split: washout, training and test sample counts.
        ridge: Tikhonov weight of the readout, in the units of the squared states (V^2).
        seed: seed of the task's inputs.
        order: NARMA order.
        inputs, targets: the task series, shape ``(split.total,)`` each.
    """

    job = "reservoir"
    name: str
    description: str
    source: Path
    spec: ReservoirSpec
    mapping: CircuitMapping
    sample_time: float
    steps_per_sample: int
    split: SeriesSplit
    ridge: float
    seed: int
    order: int
    inputs: np.ndarray
    targets: np.ndarray

    def summary(self) -> str:
        """Return one line for ``npdehw validate``."""
        return (f"reservoir of {self.spec.n_nodes} nodes {list(self.spec.shape)} on NARMA-"
                f"{self.order}, {self.split.train} training and {self.split.test} test "
                f"samples")

    @property
    def end_time(self) -> float:
        """Return the model time of the whole run."""
        return self.split.total * self.sample_time

    def drive_v(self) -> np.ndarray:
        """Return the drive voltage of each sample."""
        return self.mapping.voltage_scale_v * self.spec.drive(self.inputs)


def parse_reservoir_design(root: Table, name: str, description: str, path: Path):
    """Read the ``[reservoir]`` and ``[circuit]`` tables of a design."""
    table = root.table("reservoir")
    spec = _parse_spec(table)
    mapping = parse_mapping(root.table("circuit"))
    timing = _parse_timing(table, spec)
    order = _parse_task(table.table("task", optional=True), timing["split"])
    seed = table.integer("seed", default=0)
    if seed < 0:
        raise SpecError(table.key("seed"), f"must be zero or positive, got {seed}")
    table.finish()
    try:
        inputs, targets = narma_series(timing["split"].total, order, seed)
    except NarmaDivergence as err:
        raise SpecError(table.key("seed"), f"{err}; choose another seed or a lower "
                        "task.order") from err
    design = ReservoirDesign(name=name, description=description, source=path, spec=spec,
                             mapping=mapping, seed=seed, order=order, inputs=inputs,
                             targets=targets, **timing)
    _check_circuit(design)
    return design


def _parse_spec(table: Table) -> ReservoirSpec:
    shape = tuple(table.int_list("shape"))
    nodes = tuple(tuple(index) for index in table.list_of_int_lists("input_nodes"))
    return table.build(
        ReservoirSpec, shape=shape,
        boundary=table.string("boundary", default="zero_flux"),
        diffusion=table.number("diffusion", default=0.0),
        advection=table.number("advection", default=0.0),
        decay=table.number("decay", default=0.0),
        reaction=_parse_reaction(table),
        input_nodes=nodes,
        input_weights=tuple(table.number_list("input_weights")),
        input_offset=table.number("input_offset", default=0.0),
        input_gain=table.number("input_gain", default=1.0))


def _parse_reaction(table: Table):
    parameters = {}
    if table.has("parameters"):
        sub = table.table("parameters")
        parameters = {key: sub.number(key) for key in sub.keys()}
        sub.finish()
    if not table.has("reaction"):
        if parameters:
            raise SpecError(table.key("parameters"), "is set but there is no reaction to "
                            "use it; add 'reaction' or remove the table")
        return None
    try:
        return parse(table.string("reaction"), fields=("u",), params=parameters)
    except (ExpressionError, ValueError) as err:
        raise SpecError(table.key("reaction"), str(err)) from err


def _parse_timing(table: Table, spec: ReservoirSpec) -> dict:
    sample_time = table.number("sample_time")
    if not sample_time > 0:
        raise SpecError(table.key("sample_time"), f"must be positive, got {sample_time!r}")
    steps = table.integer("steps_per_sample", default=20)
    if not 2 <= steps <= 1000:
        raise SpecError(table.key("steps_per_sample"), f"must be 2 to 1000, got {steps}")
    split = SeriesSplit(washout=table.integer("washout", default=100),
                        train=table.integer("train"), test=table.integer("test"))
    _check_split(table, split, spec.n_nodes)
    total_steps = split.total * steps
    if total_steps > MAX_TWIN_STEPS or total_steps * spec.n_nodes > MAX_NODE_STEPS:
        raise SpecError(table.key("steps_per_sample"), f"{split.total} samples of {steps} "
                        f"steps on {spec.n_nodes} nodes is more than a run supports (at most "
                        f"{MAX_TWIN_STEPS} steps and {MAX_NODE_STEPS} node steps); use fewer "
                        "samples, steps or nodes")
    ridge = table.number("ridge", default=1e-7)
    if ridge < 0:
        raise SpecError(table.key("ridge"), f"must be zero or positive, got {ridge!r}")
    return {"sample_time": sample_time, "steps_per_sample": steps, "split": split,
            "ridge": ridge}


def _check_split(table: Table, split: SeriesSplit, n_nodes: int) -> None:
    if split.washout < 0:
        raise SpecError(table.key("washout"), f"must be zero or positive, got {split.washout}")
    if split.train <= n_nodes:
        raise SpecError(table.key("train"), f"{split.train} training samples cannot fit a "
                        f"readout of {n_nodes} node voltages; use more than {n_nodes}")
    if split.test < 10:
        raise SpecError(table.key("test"), f"must be at least 10 samples, got {split.test}")
    if split.total > MAX_SAMPLES:
        raise SpecError(table.key("train"), f"washout + train + test = {split.total} samples "
                        f"is more than the {MAX_SAMPLES} a run supports; use fewer")


def _parse_task(table: Table, split: SeriesSplit) -> int:
    if table.has("kind"):
        table.choice("kind", TASKS)
    order = table.integer("order", default=10)
    if not 2 <= order <= MAX_ORDER:
        raise SpecError(table.key("order"), f"must be 2 to {MAX_ORDER}, got {order}")
    if split.washout + split.train <= order:
        raise SpecError(table.key("order"), f"NARMA-{order} needs more than {order} samples "
                        "before the test part; add washout or training samples")
    table.finish()
    return order


def _check_circuit(design: ReservoirDesign) -> None:
    """Build and round the circuit once, so catalogue limits fail as invalid input."""
    from npdehw.hw.checks import check_circuit
    from npdehw.hw.reservoir_circuit import build_reservoir_circuit
    from npdehw.hw.rounding import round_to_series

    graph = build_reservoir_circuit(design.spec, design.mapping, design.end_time)
    try:
        check_circuit(graph)
    except CircuitError as err:
        raise SpecError("reservoir", f"the circuit is invalid: {err}") from err
    try:
        round_to_series(graph, design.mapping)
    except SpecError as err:
        raise SpecError(f"circuit.{err.key}", err.message) from err
