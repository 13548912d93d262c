"""The sweep folder: one JSON file per finished sample, so a stopped sweep resumes.

Layout of a sweep folder::

    .npdehw-sweep              marker: the folder belongs to npdehw sweep
    sweep.json                 manifest: design digest, --vary, seed, distribution, tolerances
    design.toml                copy of the design file
    samples/setting-000/nominal.json, sample-000000.json, ...

Each sample file is written to a temporary file and renamed, so it is either whole
or absent. A rerun with the same manifest skips every sample that has a file. A sweep
folder with another manifest and at least one sample, a run folder of ``npdehw run``
or a folder that npdehw did not write is rejected and left untouched. A lock file
keeps two sweeps out of one folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from npdehw.runfolder import MARKER, check_target, write_atomic

__all__ = ["SWEEP_MARKER", "SweepFolder", "open_sweep_folder"]

logger = logging.getLogger(__name__)

SWEEP_MARKER = ".npdehw-sweep"
MANIFEST = "sweep.json"
NOMINAL_NAME = "nominal"


class SweepFolder:
    """An opened, locked sweep folder."""

    def __init__(self, path: Path, manifest: dict, resumed: bool):
        self.path = path
        self.manifest = manifest
        self.resumed = resumed

    def record_path(self, setting: int, sample: int) -> Path:
        """Return the file of one sample; a negative ``sample`` is the nominal run."""
        name = NOMINAL_NAME if sample < 0 else f"sample-{sample:06d}"
        return self.path / "samples" / f"setting-{setting:03d}" / f"{name}.json"

    def write_record(self, record: dict) -> None:
        """Store one finished or failed sample."""
        path = self.record_path(record["setting"], record["sample"])
        write_atomic(path, json.dumps(record, indent=1) + "\n")

    def records(self) -> dict[tuple[int, int], dict]:
        """Return every stored sample by ``(setting, sample)``."""
        found = {}
        for path in sorted((self.path / "samples").glob("setting-*/*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                found[record["setting"], record["sample"]] = record
            except (OSError, ValueError, KeyError, TypeError) as err:
                logger.warning("ignoring unreadable sample file %s (%s); the sample runs "
                               "again", path, err)
        return found

    def write_text(self, name: str, text: str) -> Path:
        """Write a summary file of the sweep atomically and return its path."""
        path = self.path / name
        write_atomic(path, text)
        return path


def _manifest_differences(old: dict, new: dict) -> list[str]:
    return [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def _check_existing(target: Path, manifest: dict) -> bool:
    """Return True when ``target`` is a sweep folder of the same manifest (a resume)."""
    if not target.is_dir() or not any(target.iterdir()):
        check_target(target)
        return False
    if (target / SWEEP_MARKER).exists():
        try:
            old = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise FileExistsError(f"--out {target}: its {MANIFEST} is unreadable ({err}); "
                                  "choose another --out") from err
        differences = _manifest_differences(old, manifest)
        if differences and not any((target / "samples").glob("setting-*/*.json")):
            return False  # a sweep that stopped before its first sample; nothing to keep
        if differences:
            raise FileExistsError(f"--out {target} contains a sweep with different "
                                  f"{', '.join(differences)}; its samples are kept, so "
                                  "choose another --out or rerun with the options it was "
                                  "started with to resume it")
        return True
    if (target / MARKER).exists():
        raise FileExistsError(f"--out {target} is a run folder of npdehw run; a sweep does "
                              "not replace it, so choose another --out")
    check_target(target)  # raises for a non-empty folder that npdehw did not write
    return False


@contextlib.contextmanager
def open_sweep_folder(target: Path, manifest: dict, design_text: str) -> Iterator[SweepFolder]:
    """Yield the sweep folder ``target``, new or resumed, locked for this process.

    Raises:
        FileExistsError: when ``target`` may not be written or another sweep has it locked.
    """
    target = Path(target).resolve()
    resumed = _check_existing(target, manifest)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileExistsError(f"--out {target}: another npdehw sweep is writing there; "
                                  "wait for it or choose another --out") from None
        if not resumed:
            write_atomic(target / SWEEP_MARKER, "written by npdehw sweep; rerun the same "
                         "command to resume\n")
            write_atomic(target / MANIFEST, json.dumps(manifest, indent=2) + "\n")
            write_atomic(target / "design.toml", design_text)
        yield SweepFolder(target, manifest, resumed)
