"""The inverse job: recover a hidden, spatially varying diffusion from probe voltages.

A design whose top-level table is ``[inverse]`` describes an RC grid with one
resistor per grid edge (``hw/edge_grid.py``). The edge resistances follow a seeded
smooth random field between ``hidden_ratio`` times the nominal value. ngspice records
the probe voltages of that hidden circuit from several seeded initial states. The
twin (``models/rc_twin.py``) then trains every edge conductance from the uniform
nominal guess to match them, once per entry of ``noise_levels``, which adds Gaussian
noise of that share of the RMS probe voltage. The first fit is written back, rounded
to the resistor series and simulated again in ngspice. ``[training]`` takes the
keys of ``npdehw.training_setup.parse_training``.

Times are in units of the nominal edge's ``R C``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from npdehw.design import parse_spice
from npdehw.errors import SpecError
from npdehw.hw.mapping import SERIES_NAMES
from npdehw.models.rc_twin import METHODS
from npdehw.models.training import TrainSpec
from npdehw.sim.settings import SpiceOptions
from npdehw.tomlkeys import Table
from npdehw.training_setup import parse_training

__all__ = ["InverseDesign", "parse", "run"]

MAX_NODES = 1024
BOUNDARIES = ("dirichlet", "zero_flux")
CATALOGUE_OHM = (1.0, 10e6)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InverseDesign:
    """A validated inverse design, described by the module docstring and the keys'
    comments in ``designs/inverse_diffusion.toml``."""

    name: str
    description: str
    source: Path
    shape: tuple[int, ...] = (16, 16)
    boundary: str = "dirichlet"
    resistance_ohm: float = 10e3
    capacitance_f: float = 1e-9
    hidden_ratio: tuple[float, float] = (0.5, 2.0)
    correlation_length: float = 4.0
    field_seed: int = 0
    excitations: int = 4
    excitation_seed: int = 1
    excitation_v: float = 1.0
    end_time: float = 20.0
    output_times: int = 40
    probes: tuple[tuple[int, ...], ...] | None = None
    noise_levels: tuple[float, ...] = (0.0, 0.01)
    noise_seed: int = 2
    search_ratio: tuple[float, float] = (0.25, 4.0)
    twin_method: str = "modal"
    twin_steps: int = 4000
    tolerance: float = 0.05
    observability_noise: float = 0.01
    observability_limit: float = 0.02
    resistor_series: str = "E96"
    capacitor_series: str = "E12"
    spice: SpiceOptions = SpiceOptions()
    training: TrainSpec = TrainSpec(optimizer="lbfgs", learning_rate=1.0, epochs=30,
                                    patience=3, min_improvement=1e-3)
    job: str = "inverse"

    def __post_init__(self):
        self._check_grid()
        self._check_ranges()
        self._check_counts()
        self._check_twin()

    def _check_grid(self):
        if len(self.shape) not in (1, 2) or any(n < 2 for n in self.shape):
            raise SpecError("shape", f"needs 1 or 2 axes of at least 2 nodes, got "
                            f"{list(self.shape)}")
        if math.prod(self.shape) > MAX_NODES:
            raise SpecError("shape", f"{math.prod(self.shape)} nodes is more than the "
                            f"{MAX_NODES} the dense twin handles; use a smaller grid")
        if self.boundary not in BOUNDARIES:
            raise SpecError("boundary", f"unknown boundary {self.boundary!r}; use one of "
                            f"{list(BOUNDARIES)}")
        for index in self.probes or ():
            if len(index) != len(self.shape) or not all(
                    0 <= i < n for i, n in zip(index, self.shape)):
                raise SpecError("probes", f"index {list(index)} is outside the grid "
                                f"{list(self.shape)}; indices start at 0")
        if self.probes is not None and len(set(self.probes)) != len(self.probes):
            raise SpecError("probes", "lists a node twice; remove the repeat")

    def _check_ranges(self):
        for key in ("resistance_ohm", "capacitance_f", "correlation_length", "excitation_v",
                    "end_time"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise SpecError(key, f"must be positive and finite, got {value!r}")
        for key in ("hidden_ratio", "search_ratio"):
            low, high = getattr(self, key)
            if not 0 < low <= 1 <= high or not math.isfinite(high):
                raise SpecError(key, f"needs 0 < low <= 1 <= high (factors of the nominal "
                                f"resistance), got [{low!r}, {high!r}]")
        if not (self.search_ratio[0] < self.hidden_ratio[0]
                and self.hidden_ratio[1] < self.search_ratio[1]):
            raise SpecError("search_ratio", f"{list(self.search_ratio)} must reach beyond "
                            f"hidden_ratio {list(self.hidden_ratio)} on both sides, so the "
                            "twin can reach every hidden value")
        low = self.resistance_ohm * self.search_ratio[0]
        high = self.resistance_ohm * self.search_ratio[1]
        if low < CATALOGUE_OHM[0] or high > CATALOGUE_OHM[1]:
            raise SpecError("resistance_ohm", f"{self.resistance_ohm!r} times search_ratio "
                            f"spans [{low:g}, {high:g}] ohm, outside the catalogue's "
                            f"[{CATALOGUE_OHM[0]:g}, {CATALOGUE_OHM[1]:g}] ohm")
        for level in self.noise_levels:
            if not (math.isfinite(level) and 0 <= level < 1):
                raise SpecError("noise_levels", f"each level must be in [0, 1), got {level!r}")
        checks = (("tolerance", 0 < self.tolerance < 1),
                  ("observability_noise", 0 < self.observability_noise < 1),
                  ("observability_limit", 0 < self.observability_limit < 1))
        for key, ok in checks:
            if not ok:
                raise SpecError(key, f"must be in (0, 1), got {getattr(self, key)!r}")

    def _check_counts(self):
        if not 1 <= self.excitations <= 64:
            raise SpecError("excitations", f"must be 1 to 64, got {self.excitations}")
        if not 1 <= self.output_times <= 1000:
            raise SpecError("output_times", f"must be 1 to 1000, got {self.output_times}")
        if not self.noise_levels:
            raise SpecError("noise_levels", "needs at least one level, because the first "
                            "fit is written back; add 0.0")
        for key in ("resistor_series", "capacitor_series"):
            if getattr(self, key).upper() not in SERIES_NAMES:
                raise SpecError(key, f"unknown series {getattr(self, key)!r}; use one of "
                                f"{list(SERIES_NAMES)}")

    def _check_twin(self):
        if self.twin_method not in METHODS:
            raise SpecError("twin_method", f"unknown method {self.twin_method!r}; use one of "
                            f"{list(METHODS)}")
        if not self.output_times <= self.twin_steps <= 1_000_000:
            raise SpecError("twin_steps", f"must be output_times ({self.output_times}) to "
                            f"1000000, got {self.twin_steps}")

    @property
    def n_nodes(self) -> int:
        return math.prod(self.shape)

    def summary(self) -> str:
        """Return one line for ``npdehw validate``."""
        grid = " x ".join(map(str, self.shape))
        probes = self.n_nodes if self.probes is None else len(self.probes)
        low, high = self.hidden_ratio
        return (f"inverse diffusion on a {grid} RC grid: edge resistors from a hidden field "
                f"of {low:g}x to {high:g}x of {self.resistance_ohm:g} ohm, "
                f"{self.excitations} excitations, {probes} probes, "
                f"{self.training.optimizer} training")


def parse(root: Table, name: str, description: str, path: Path) -> InverseDesign:
    """Read the ``[inverse]`` and ``[training]`` tables of a design."""
    table = root.table("inverse")
    kwargs = {}

    readers = {"boundary": table.string, "twin_method": table.string,
               "resistor_series": table.string, "capacitor_series": table.string}
    for key in ("resistance_ohm", "capacitance_f", "correlation_length", "excitation_v",
                "end_time", "tolerance", "observability_noise", "observability_limit"):
        readers[key] = table.number
    for key in ("field_seed", "excitations", "excitation_seed", "output_times", "noise_seed",
                "twin_steps"):
        readers[key] = table.integer
    for key, read in readers.items():
        if table.has(key):
            kwargs[key] = read(key)

    if table.has("shape"):
        kwargs["shape"] = tuple(table.int_list("shape"))
    for key in ("hidden_ratio", "search_ratio"):
        if table.has(key):
            kwargs[key] = tuple(table.number_list(key, length=2))
    if table.has("noise_levels"):
        kwargs["noise_levels"] = tuple(table.number_list("noise_levels"))
    if table.has("probes"):
        kwargs["probes"] = tuple(tuple(item) for item in table.list_of_int_lists("probes"))
    if table.has("spice"):
        kwargs["spice"] = parse_spice(table.table("spice"))

    training_table = root.table("training", optional=True)
    training = parse_training(training_table, **dataclasses.asdict(InverseDesign.training))
    training_table.finish()
    design = table.build(InverseDesign, name=name, description=description, source=path,
                         training=training, **kwargs)
    table.finish()
    return design


def run(design: InverseDesign, out: Path, *, quiet: bool = False,
        fresh: bool = False) -> list[str]:
    """Record, train, write back, round, verify in ngspice and write the run folder."""
    from npdehw.inverse_report import export_inverse_run, summary_lines
    from npdehw.inverse_run import run_inverse
    from npdehw.training_setup import TrainingSetup, clear_checkpoints

    setup = TrainingSetup(out, design.source, fresh)
    result = run_inverse(design, setup, quiet=quiet)
    export_inverse_run(design, result, out)
    clear_checkpoints(out)
    return summary_lines(result)
