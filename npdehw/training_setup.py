"""The ``[training]`` table of a design, and where a run keeps its training checkpoints.

Checkpoints live beside the run folder in ``.<run folder name>.checkpoints/``, one
file per training stage, because the run folder itself is written only when the whole
run succeeds. They are removed once the run folder is in place.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from npdehw.models.training import TrainSpec
from npdehw.tomlkeys import Table

__all__ = ["TrainingSetup", "clear_checkpoints", "parse_training"]

_NUMBERS = ("learning_rate", "min_improvement", "momentum")
_INTEGERS = ("epochs", "seed", "patience", "batch_size")


def parse_training(table: Table, **defaults) -> TrainSpec:
    """Return the TrainSpec of ``table``; ``defaults`` fill keys the design leaves out."""
    kwargs = dict(defaults)
    if table.has("optimizer"):
        kwargs["optimizer"] = table.string("optimizer")
    for key in _NUMBERS:
        if table.has(key):
            kwargs[key] = table.number(key)
    for key in _INTEGERS:
        if table.has(key):
            kwargs[key] = table.integer(key)
    return table.build(TrainSpec, **kwargs)


class TrainingSetup:
    """Checkpoint files of one run folder, keyed to the design file's content.

    Args:
        out: the run folder the run will write.
        source: the design file; its bytes key the checkpoints, so editing the design
            starts training afresh.
        fresh: True ignores and replaces existing checkpoints.
    """

    def __init__(self, out: Path, source: Path, fresh: bool = False):
        out = Path(out).resolve()
        self.folder = out.parent / f".{out.name}.checkpoints"
        self.fingerprint = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        if fresh:
            clear_checkpoints(out)

    def checkpoint(self, stage: str) -> Path:
        """Return the checkpoint file of one training stage (a short name such as ``qat_4``)."""
        return self.folder / f"{stage}.pt"


def clear_checkpoints(out: Path) -> None:
    """Remove the checkpoints of run folder ``out``, if any."""
    out = Path(out).resolve()
    shutil.rmtree(out.parent / f".{out.name}.checkpoints", ignore_errors=True)
