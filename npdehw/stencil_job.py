"""The stencil job: learn a 3 x 3 image stencil, build it from resistors, check it in ngspice.

A design whose top-level table is ``[stencil]`` names the task, the noise, the split
and the parts. The task ``denoise`` maps a noisy digit to the clean one, and ``edges``
maps it to the Laplacian of the clean one. ``[training]`` sets the optimizer
(``parse_training``, Adam by default). The run trains the stencil in torch with early
stopping on a validation split and chooses the feedback resistor for E-series parts.
It then builds the circuit (``npdehw.hw.stencil_circuit``), rounds its resistors, and
scores the float stencil, the DC twin and ngspice, each with ideal and with rounded
parts, on held-out images.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

from npdehw.errors import DesignError, SpecError
from npdehw.hw.crossbar_circuit import READOUTS, Readout
from npdehw.hw.mapping import SERIES_NAMES
from npdehw.models.stencil_images import TASKS
from npdehw.models.training import TrainSpec
from npdehw.tomlkeys import Table
from npdehw.training_setup import parse_training

__all__ = ["STAGES", "StencilDesign", "parse", "run"]

IMAGE_SETS = ("digits",)
N_DIGITS = 1797
STAGES = ("load images", "train stencil", "choose feedback resistor", "build circuits",
          "run twin", "simulate in ngspice", "export")
TRAINING_DEFAULTS = dict(optimizer="adam", learning_rate=1e-2, epochs=300, patience=20,
                         batch_size=64)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StencilDesign:
    """A validated stencil design; resistances in ohms, voltages in volts.

    Attributes:
        task: ``denoise`` or ``edges``.
        images: the image set, ``digits`` (scikit-learn's bundled 8 x 8 digits).
        noise_std: Gaussian noise added to the inputs, in pixel units of [0, 1].
        validation_fraction, test_fraction: shares of the images for early stopping
            and for the held-out scores.
        seed: seeds the noise and the split (training has its own ``training.seed``).
        max_images: images used, 0 for all 1797.
        spice_images: held-out images that ngspice runs, 0 for all of them.
        resistor_series: E-series the resistors are rounded to.
        resistance_range_ohm: smallest and largest resistance of the catalogue.
        feedback_ohm: the feedback resistor ``R_f``, or the lower end of its search.
        feedback_search: try each series value from ``feedback_ohm`` to ten times it
            and keep the one whose rounded stencil scores best on the validation split.
        voltage_scale_v: volts per pixel unit.
        readout: ``tia`` (op-amp transimpedance stages) or ``ideal`` (ammeters).
        opamp_gain: open-loop gain of the op-amp macro model.
        training: optimizer, epochs and early stopping.
    """

    job: str = "stencil"
    name: str
    description: str
    source: Path
    task: str = "denoise"
    images: str = "digits"
    noise_std: float = 0.25
    validation_fraction: float = 0.15
    test_fraction: float = 0.2
    seed: int = 0
    max_images: int = 0
    spice_images: int = 0
    resistor_series: str = "E24"
    resistance_range_ohm: tuple[float, float] = (1.0, 10e6)
    feedback_ohm: float = 10e3
    feedback_search: bool = True
    voltage_scale_v: float = 1.0
    readout: str = "tia"
    opamp_gain: float = 1e5
    training: TrainSpec = TrainSpec(**TRAINING_DEFAULTS)

    def __post_init__(self):
        choices = (("task", TASKS), ("images", IMAGE_SETS), ("readout", READOUTS),
                   ("resistor_series", SERIES_NAMES))
        for key, options in choices:
            if getattr(self, key) not in options:
                raise SpecError(key, f"unknown value {getattr(self, key)!r}; use one of "
                                f"{list(options)}")
        for key, ok, expected in self._checks():
            if not ok:
                raise SpecError(key, f"must be {expected}, got {getattr(self, key)!r}")

    def _checks(self):
        low, high = self.resistance_range_ohm
        fractions = self.validation_fraction + self.test_fraction
        images = self.max_images or N_DIGITS
        held_out = round(self.test_fraction * images)
        return (
            ("noise_std", 0 <= self.noise_std <= 1, "in [0, 1] (pixel units)"),
            ("seed", self.seed >= 0, "0 or more"),
            ("max_images", self.max_images == 0 or 20 <= self.max_images <= N_DIGITS,
             f"0 (all images) or 20 to {N_DIGITS}"),
            ("validation_fraction", 0 < self.validation_fraction < 0.5
             and round(self.validation_fraction * images) >= 1,
             f"in (0, 0.5) and leave at least one of the {images} images for validation"),
            ("test_fraction", 0 < self.test_fraction < 0.5 and fractions <= 0.8
             and held_out >= 1,
             f"in (0, 0.5), hold out at least one of the {images} images, and add up "
             "with validation_fraction to at most 0.8"),
            ("spice_images", 0 <= self.spice_images <= held_out,
             f"0 (all held-out images) to the {held_out} held-out images"),
            ("resistance_range_ohm", 0 < low < high and math.isfinite(high),
             "[low, high] with 0 < low < high"),
            ("feedback_ohm", low <= self.feedback_ohm <= high,
             f"inside resistance_range_ohm [{low:g}, {high:g}]"),
            ("voltage_scale_v", 0 < self.voltage_scale_v <= 10, "in (0, 10] volts"),
            ("opamp_gain", self.opamp_gain > 1, "greater than 1"),
        )

    def summary(self) -> str:
        """Return one line for ``npdehw validate``."""
        return (f"learned 3 x 3 stencil ({self.task}) on {self.images} with noise "
                f"{self.noise_std:g}, {self.resistor_series} resistors, {self.readout} "
                "readout")

    def make_readout(self, feedback_ohm: float) -> Readout:
        """Return the column readout with feedback resistor ``feedback_ohm``."""
        return Readout(kind=self.readout, opamp_gain=self.opamp_gain,
                       feedback_ohm=feedback_ohm)


def parse(root: Table, name: str, description: str, path: Path) -> StencilDesign:
    """Read the ``[stencil]`` and ``[training]`` tables of a design."""
    table = root.table("stencil")
    kwargs = {}
    readers = {"task": table.string, "images": table.string, "readout": table.string,
               "resistor_series": table.string, "noise_std": table.number,
               "validation_fraction": table.number, "test_fraction": table.number,
               "feedback_ohm": table.number, "voltage_scale_v": table.number,
               "opamp_gain": table.number, "seed": table.integer,
               "max_images": table.integer, "spice_images": table.integer}
    for key, read in readers.items():
        if table.has(key):
            kwargs[key] = read(key)
    if table.has("resistance_range_ohm"):
        kwargs["resistance_range_ohm"] = tuple(table.number_list("resistance_range_ohm", 2))
    if table.has("feedback_search"):
        kwargs["feedback_search"] = _boolean(table, "feedback_search")
    training_table = root.table("training", optional=True)
    training = parse_training(training_table, **TRAINING_DEFAULTS)
    training_table.finish()
    design = table.build(StencilDesign, name=name, description=description, source=path,
                         training=training, **kwargs)
    table.finish()
    return design


def _boolean(table: Table, key: str) -> bool:
    value = table.raw(key)
    if not isinstance(value, bool):
        raise SpecError(table.key(key), f"must be true or false, got {value!r}")
    return value


def run(design: StencilDesign, out: Path, *, quiet: bool = False,
        fresh: bool = False) -> list[str]:
    """Train, build, simulate and write the run folder ``out``; return summary lines."""
    from npdehw.stages import SilentTracker, Stages, StageTracker
    from npdehw.stencil_record import stencil_record
    from npdehw.stencil_report import EXAMPLES, export_stencil_run
    from npdehw.training_setup import TrainingSetup, clear_checkpoints

    stages = Stages(SilentTracker() if quiet else StageTracker(lines=True), len(STAGES))
    data = stages.run(STAGES[0], _load, design)
    setup = TrainingSetup(out, design.source, fresh)
    trained = stages.run(STAGES[1], _train, design, data, setup, quiet)
    feedback, candidates = stages.run(STAGES[2], _choose_feedback, design, data, trained)
    test = data.test
    circuits = stages.run(STAGES[3], _build, design, trained, feedback, test.inputs.shape[1:])
    spice_count = design.spice_images or len(test)
    twin = stages.run(STAGES[4], _twin, circuits, test.inputs)
    spice = stages.run(STAGES[5], _spice, design, circuits, test.inputs[:spice_count])
    record = stencil_record(design, data, trained, feedback, candidates, circuits, twin,
                            spice)
    record["timings_s"] = dict(stages.timings)
    outputs = {"float": trained.apply(test.inputs[:EXAMPLES]),
               "spice": spice["rounded"][0][:EXAMPLES]}
    stages.run(STAGES[6], export_stencil_run, design, record, circuits, test, outputs, out)
    clear_checkpoints(out)
    return _summary(record)


def _load(design: StencilDesign):
    from npdehw.models.stencil_images import load_stencil_data

    return load_stencil_data(design.task, noise_std=design.noise_std,
                             validation_fraction=design.validation_fraction,
                             test_fraction=design.test_fraction, seed=design.seed,
                             max_images=design.max_images)


def _train(design, data, setup, quiet):
    from npdehw.models.stencil_training import train_stencil

    return train_stencil(data, design.training, checkpoint=setup.checkpoint("stencil"),
                         fingerprint=setup.fingerprint, progress=not quiet)


def _choose_feedback(design, data, trained):
    """Return the feedback resistance and the validation score of each candidate."""
    from npdehw.hw.stencil_rounding import choose_feedback, feedback_candidates
    from npdehw.models.stencil_training import apply_stencil, mean_squared_error

    validation = data.validation
    candidates = [design.feedback_ohm]
    if design.feedback_search:
        candidates = feedback_candidates(design.feedback_ohm, design.resistor_series,
                                         design.resistance_range_ohm) or candidates

    def score(weight, bias):
        return mean_squared_error(apply_stencil(validation.inputs, weight, bias),
                                  validation.targets)

    with _design_errors(design):
        return choose_feedback(trained.weight, trained.bias, candidates,
                               design.resistor_series, design.resistance_range_ohm, score,
                               feedback_is_part=design.readout == "tia")


def _build(design, trained, feedback, shape):
    """Return the ``ideal`` and ``rounded`` circuits, both with the training provenance."""
    from npdehw.hw.mapping import CircuitMapping
    from npdehw.hw.rounding import round_to_series
    from npdehw.hw.stencil_circuit import (build_stencil_circuit, parameter_names,
                                           with_provenance)

    with _design_errors(design):
        ideal = build_stencil_circuit(trained.weight, trained.bias, shape,
                                      readout=design.make_readout(feedback),
                                      voltage_scale_v=design.voltage_scale_v,
                                      resistance_range_ohm=design.resistance_range_ohm)
        initial = dict(zip(parameter_names(),
                           [*trained.initial_weight.ravel(), trained.initial_bias]))
        graph = with_provenance(ideal, initial, trained.history.best_epoch)
        # Only the resistor catalogue matters here: the circuit has no capacitors, and
        # the time scale is unused.
        catalogue = CircuitMapping(time_scale_s=1.0, resistor_series=design.resistor_series,
                                   resistance_range_ohm=design.resistance_range_ohm)
        rounded = round_to_series(graph, catalogue)
    return {"ideal": dataclasses.replace(ideal, graph=graph),
            "rounded": dataclasses.replace(ideal, graph=rounded)}


@contextlib.contextmanager
def _design_errors(design: StencilDesign):
    """Turn a SpecError raised after parsing into a DesignError naming the file and key."""
    try:
        yield
    except SpecError as err:
        raise DesignError(f"{design.source}: stencil.{err.key}: {err.message}") from err


def _twin(circuits, inputs):
    from npdehw.sim.stencil_run import run_stencil_twin

    return {name: run_stencil_twin(circuit, inputs) for name, circuit in circuits.items()}


def _spice(design, circuits, inputs):
    from npdehw.sim.stencil_run import run_stencil_spice

    return {name: run_stencil_spice(circuit, inputs, title=design.name)
            for name, circuit in circuits.items()}


def _summary(record: dict) -> list[str]:
    scores = record["scores"]
    acceptance = record["acceptance"]
    return [f"held-out MSE on {scores['images']} images: baseline "
            f"{scores['baseline']:.5f}, float stencil {scores['float']:.5f}, ngspice ideal "
            f"{scores['spice_ideal']:.5f}, ngspice {record['design']['resistor_series']} "
            f"{scores['spice_rounded']:.5f}",
            f"rounded ngspice vs float: {100 * acceptance['rounded_spice_vs_float']:+.3f} % "
            f"(limit {100 * acceptance['limit']:.0f} %), "
            f"{'passed' if acceptance['passed'] else 'FAILED'}"]

