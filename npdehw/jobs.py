"""Designs that are whole jobs (training, then circuits checked in ngspice).

Each job owns one top-level table of the design file and lives in its own module,
which provides:

- ``parse(root, name, description, path)``: read the design's tables (a ``Table``)
  and return a frozen design object with ``name``, ``description``, ``source`` and a
  ``summary()`` line for ``npdehw validate``;
- ``run(design, out, *, quiet, fresh)``: train, build, simulate and write the run
  folder ``out`` atomically; return the summary lines to print. ``fresh`` ignores
  training checkpoints left by an earlier, stopped run.
"""

from __future__ import annotations

import importlib

__all__ = ["JOBS", "job_module"]

JOBS = {
    "inverse": "npdehw.inverse_job",
    "stencil": "npdehw.stencil_job",
    "reservoir": "npdehw.reservoir_job",
}


def job_module(table: str):
    """Return the module that runs designs with the top-level table ``table``."""
    return importlib.import_module(JOBS[table])
