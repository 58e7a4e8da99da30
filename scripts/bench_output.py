"""Where a benchmark script's results go: every run as CSV, a Markdown summary beside it.

The Markdown names the host and the exact command line, so a committed result says where
and how it was measured. A script's user errors end it as the CLI's do (``fail``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import pandas as pd


def fenced(frame: pd.DataFrame, index: bool = False) -> str:
    """``frame`` as a fixed-width table in a Markdown code block (3 significant digits)."""
    return "\n".join(["```", frame.to_string(index=index, float_format=lambda v: f"{v:.3g}"),
                      "```", ""])


def write_results(out: Path, name: str, runs: pd.DataFrame, title: str, note: str,
                  blocks: list[str]) -> None:
    """Write ``out/name.csv`` (``runs``) and ``out/name.md`` (title, host, command, note,
    ``blocks``), and print the Markdown."""
    from autotune.hardware.host import host_description

    out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(out / f"{name}.csv", index=False)
    command = f"python scripts/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}".rstrip()
    text = "\n".join([f"# {title}", "", f"Host: {host_description()}. Command: `{command}`. "
                      f"{note}", "", *blocks])
    (out / f"{name}.md").write_text(text)
    print(text)


def write_table(table: pd.DataFrame, out: Path | None, **to_csv) -> None:
    """Write ``table`` as CSV to ``out`` (its folder made; no index unless ``to_csv`` asks
    for one) and say so; nothing where ``out`` is None."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, **{"index": False, **to_csv})
    print(f"wrote {out}")


def fail(message: str) -> NoReturn:
    """End the script on a user's error as the CLI does: one line, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def named_folders(specs: list[str], what: str, least: int = 1) -> list[tuple[str, str]]:
    """``NAME=DIR`` arguments as (name, folder) pairs, in order; ``fail`` on a malformed one
    or on fewer than ``least``."""
    named = [spec.partition("=") for spec in specs]
    bad = [spec for spec, (name, eq, folder) in zip(specs, named) if not (name and eq and folder)]
    if bad or len(named) < least:
        many = f"{least} or more " if least > 1 else ""
        fail(f"give {many}{what} as NAME=DIR, got {' '.join(bad or specs)}")
    return [(name, folder) for name, _, folder in named]
