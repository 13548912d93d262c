"""Replace one benchmark's marked section of a Markdown file, writing atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_section"]


def write_section(path: Path, section: str, start: str, end: str) -> None:
    """Replace the text from ``start`` to ``end`` in ``path`` with ``section``, or append it.

    ``section`` includes both markers. The file is written to a temporary file and
    renamed, so an interrupted benchmark never leaves it half written.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        new = head + section.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(new)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
