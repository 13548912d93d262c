"""Replace one benchmark's marked section of a Markdown file, writing atomically."""

from __future__ import annotations

from pathlib import Path

from npdehw.runfolder import write_atomic

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
    write_atomic(path, new)
