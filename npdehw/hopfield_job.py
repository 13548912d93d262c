"""The Hopfield job: store patterns in a crossbar, recall them from corrupted starts.

A design with a ``[hopfield]`` table (and ``[crossbar]`` for the device) stores
``patterns`` seeded random +-1 patterns of ``neurons`` bits, and runs ``trials`` recalls
per pattern from starts with ``flip_fraction`` of the bits flipped, in ngspice and in the
twin (``npdehw.sim.hopfield_run``). The run folder gets the netlist of the first trial,
the programming table, results, a report and a plot of the recalls.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from npdehw.errors import SpecError  # noqa: E402
from npdehw.hw.devices import DeviceSpec  # noqa: E402
from npdehw.hw.hopfield import build_hopfield_circuit, hebbian_weights  # noqa: E402
from npdehw.runfolder import atomic_folder  # noqa: E402
from npdehw.tomlkeys import Table  # noqa: E402

__all__ = ["HopfieldDesign", "export_hopfield_run", "parse_hopfield_design",
           "run_hopfield_design"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class HopfieldDesign:
    """A validated Hopfield design; times in model units (``a`` = 1 us of circuit time)."""

    name: str
    description: str
    source: Path
    neurons: int
    patterns: int
    seed: int
    flip_fraction: float
    trials: int
    gain: float
    end_time: float
    device: DeviceSpec

    def __post_init__(self):
        if not 4 <= self.neurons <= 256:
            raise SpecError("hopfield.neurons", f"must be 4 to 256, got {self.neurons}")
        if not 1 <= self.patterns <= max(1, self.neurons // 7):
            raise SpecError("hopfield.patterns", f"{self.patterns} patterns exceed about "
                            f"0.14 n = {self.neurons // 7} that {self.neurons} neurons can store")
        if not 0 <= self.flip_fraction < 0.5:
            raise SpecError("hopfield.flip_fraction", f"must be in [0, 0.5), got "
                            f"{self.flip_fraction!r}")
        if not 1 <= self.trials <= 100:
            raise SpecError("hopfield.trials", f"must be 1 to 100, got {self.trials}")
        if not (self.gain > 1 and self.end_time > 0):
            raise SpecError("hopfield.gain", f"needs gain > 1 and end_time > 0, got "
                            f"{self.gain!r} and {self.end_time!r}")


def parse_hopfield_design(root: Table, name: str, description: str, path: Path):
    """Read the ``[hopfield]`` and ``[crossbar]`` tables of a design."""
    table = root.table("hopfield")
    crossbar = root.table("crossbar", optional=True)
    device_keys = {"g_min_s": crossbar.number, "g_max_s": crossbar.number,
                   "levels": crossbar.integer, "level_spacing": crossbar.string}
    device = crossbar.build(DeviceSpec, **{key: read(key) for key, read in device_keys.items()
                                           if crossbar.has(key)})
    crossbar.finish()
    design = table.build(
        HopfieldDesign, name=name, description=description, source=path,
        neurons=table.integer("neurons", default=36),
        patterns=table.integer("patterns", default=3),
        seed=table.integer("seed", default=0),
        flip_fraction=table.number("flip_fraction", default=0.2),
        trials=table.integer("trials", default=5),
        gain=table.number("gain", default=4.0),
        end_time=table.number("end_time", default=10.0),
        device=device)
    table.finish()
    return design


def run_hopfield_design(design: HopfieldDesign, progress=None) -> dict:
    """Run every recall trial and return the results record."""
    from npdehw.sim.hopfield_run import run_hopfield_spice, run_hopfield_twin

    rng = np.random.default_rng(design.seed)
    patterns = rng.choice([-1.0, 1.0], size=(design.patterns, design.neurons))
    circuit = build_hopfield_circuit(hebbian_weights(patterns), design.device,
                                     gain=design.gain, initial=np.zeros(design.neurons))
    flips = int(round(design.flip_fraction * design.neurons))
    trials = []
    for p, pattern in enumerate(patterns):
        for t in range(design.trials):
            start = pattern.copy()
            start[rng.choice(design.neurons, size=flips, replace=False)] *= -1
            spice = run_hopfield_spice(circuit, start, design.end_time)
            twin = run_hopfield_twin(circuit, start, design.end_time)
            trials.append({"pattern": p, "start": start.tolist(),
                           "spice_final": spice[-1].tolist(), "twin_final": twin[-1].tolist(),
                           "spice_recalled": bool(np.array_equal(np.sign(spice[-1]), pattern)),
                           "twin_recalled": bool(np.array_equal(np.sign(twin[-1]), pattern)),
                           "same_state": bool(np.array_equal(np.sign(spice[-1]),
                                                             np.sign(twin[-1]))),
                           "max_difference": float(np.max(np.abs(spice - twin)))})
            if progress is not None:
                progress(len(trials), design.patterns * design.trials)
    count = len(trials)
    return {"patterns": patterns.tolist(), "flipped_bits": flips, "trials": trials,
            "spice_recall_share": sum(t["spice_recalled"] for t in trials) / count,
            "twin_recall_share": sum(t["twin_recalled"] for t in trials) / count,
            "same_state_share": sum(t["same_state"] for t in trials) / count,
            "max_difference": max(t["max_difference"] for t in trials),
            "circuit": circuit}


def _plot(record: dict, path: Path, neurons: int) -> None:
    trials = record["trials"]
    side = int(np.sqrt(neurons))
    shape = (side, neurons // side) if side * (neurons // side) == neurons else (1, neurons)
    figure, axes = plt.subplots(len(trials), 3, figsize=(5, 1.6 * len(trials)), squeeze=False,
                                constrained_layout=True)
    for row, trial in zip(axes, trials):
        images = (trial["start"], np.sign(trial["spice_final"]), np.sign(trial["twin_final"]))
        for axis, image, title in zip(row, images, ("start", "ngspice", "twin")):
            axis.imshow(np.reshape(image, shape), cmap="gray", vmin=-1, vmax=1)
            axis.set_title(f"{title} (pattern {trial['pattern']})", fontsize=7)
            axis.set_xticks([])
            axis.set_yticks([])
    figure.savefig(path, dpi=100)
    plt.close(figure)


def export_hopfield_run(design: HopfieldDesign, record: dict, out: Path) -> Path:
    """Write the run folder atomically."""
    from npdehw.hw.crossbar import programming_table_csv, tile_mapping
    from npdehw.hw.netlist import TransientAnalysis, write_netlist

    circuit = record.pop("circuit")
    stop = circuit.time_scale_s * design.end_time
    analysis = TransientAnalysis(step_s=stop / 400, stop_s=stop, max_step_s=stop / 400)
    with atomic_folder(out) as folder:
        (folder / "netlist.cir").write_text(write_netlist(circuit.graph, analysis,
                                                          title=design.name))
        layer = circuit.crossbar.layers[0]
        (folder / "programming_table.csv").write_text(
            programming_table_csv(layer.mapping, tile_mapping(layer.mapping)))
        (folder / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        lines = [f"# {design.name}", "", design.description, "",
                 f"{design.patterns} patterns of {design.neurons} bits, {design.trials} "
                 f"trials each from {record['flipped_bits']} flipped bits, "
                 f"{design.device.levels}-level crossbar.", "",
                 f"- ngspice recalled the stored pattern in "
                 f"{100 * record['spice_recall_share']:.0f} % of trials",
                 f"- the twin in {100 * record['twin_recall_share']:.0f} %",
                 f"- both reached the same state in {100 * record['same_state_share']:.0f} %",
                 f"- largest state difference: {record['max_difference']:.2e}", "",
                 "`netlist.cir` starts from zero; each trial sets the capacitor initial "
                 "voltages.", "", "![recalls](recall.png)", ""]
        (folder / "report.md").write_text("\n".join(lines))
        _plot(record, folder / "recall.png", design.neurons)
    return Path(out)
