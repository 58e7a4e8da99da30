"""Atomic file writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write into; it replaces ``path`` when the block
    ends without an exception, and is removed when it raises. It ends as ``path`` does
    (``.so``, ``.json``), for writers that choose a format by the name."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:  # on disk before the rename makes it visible
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text``, atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: object) -> None:
    """Replace ``path`` with ``data`` as indented, key-sorted JSON, atomically."""
    write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
