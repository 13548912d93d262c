"""Atomic run folders: everything is written to a sibling temporary folder first.

The finished folder replaces the old one with two renames, so an existing run
folder is either left as it was (when the run fails or is interrupted) or
replaced whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["MARKER", "atomic_folder", "check_target", "write_atomic"]

MARKER = ".npdehw-run"


def check_target(target: Path) -> Path:
    """Return ``target`` resolved, or raise FileExistsError if it may not be written.

    A run replaces only an empty folder or an earlier run folder (one holding the
    marker file ``.npdehw-run``), never another folder, a file or the file system root.
    Its parent must be writable.
    """
    target = Path(target).resolve()
    if target == target.parent or str(target) in ("", "."):
        raise FileExistsError(f"--out {target} is not a valid run folder; name a new folder")
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"--out {target} exists and is not a folder; choose another "
                              "--out")
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).exists():
        raise FileExistsError(f"--out {target} is a folder that npdehw did not write; it "
                              "is left untouched, so choose an empty or new folder")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise FileExistsError(f"--out {target}: the parent {parent} is not a folder") from err
    except PermissionError as err:
        raise FileExistsError(f"--out {target}: cannot create {parent} (permission denied); "
                              "choose a writable place") from err
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FileExistsError(f"--out {target}: {parent} is not writable; choose a writable "
                              "place")
    return target


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``target`` when the block ends without error."""
    target = check_target(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    (staging / MARKER).write_text("written by npdehw run; the folder may be replaced whole\n")
    staging.chmod(0o777 & ~_umask())  # mkdtemp creates 0700; give the usual folder mode
    try:
        yield staging
        _replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(staging: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, old / target.name)
    try:
        os.rename(staging, target)
    except OSError:
        if old is not None:
            os.rename(old / target.name, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
