"""Find and set aside damaged lines in a MetaSchedule JSON database (a crash mid-write).

MetaSchedule appends one JSON line per record and refuses to open a file with a broken
line. A process killed mid-write leaves a torn last line, and the next append then lands on
the end of it. ``repair`` moves every bad record line to ``<file>.damaged`` (nothing is
deleted), rewrites a damaged workload line from the workload itself (so record indices stay
valid), and ends the file with a newline; each fix is a warning naming file and line.
Blank lines (MetaSchedule's reader crashes the process on one) are dropped, and a workload
file left empty or deleted (a power cut) while records remain is written again from the
workload, so its records stay readable.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import tvm
from tvm.s_tir import meta_schedule as ms

from autotune.atomic import write_text
from autotune.workload import Workload

WORKLOADS = "database_workload.json"
RECORDS = "database_tuning_record.json"


class LogDamageWarning(UserWarning):
    """A damaged line was found in a tuning log and set aside."""


def _record_ok(line: str, workloads: int) -> bool:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return False
    return (
        isinstance(data, list) and len(data) == 2 and isinstance(data[0], int)
        and 0 <= data[0] < workloads and isinstance(data[1], list) and len(data[1]) == 4
    )


def _workload_ok(line: str) -> bool:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return False
    return (isinstance(data, list) and len(data) == 2 and isinstance(data[0], str)
            and data[0].isdigit() and isinstance(data[1], str))  # [structural hash, module]


def damaged_lines(path: Path) -> dict[str, list[int]]:
    """1-based numbers of damaged lines in each database file of log folder ``path``."""
    found = {}
    workloads = _lines(path / WORKLOADS)
    records = _lines(path / RECORDS)
    bad_w = [i + 1 for i, ln in enumerate(workloads) if not _workload_ok(ln)]
    lost = not workloads and bool(records)  # the workload file emptied or gone
    bad_r = [] if lost else [i + 1 for i, ln in enumerate(records)
                             if not _record_ok(ln, len(workloads))]
    if bad_w or lost or _torn(path / WORKLOADS) or _blank(path / WORKLOADS):
        found[WORKLOADS] = bad_w
    if bad_r or _torn(path / RECORDS) or _blank(path / RECORDS):
        found[RECORDS] = bad_r
    return found


def repair(path: Path, workload: Workload, target: tvm.target.Target) -> int:
    """Fix the database files of log folder ``path`` (of ``workload`` on ``target``) in
    place; returns lines set aside.

    Call it only while holding the log's tuning lock: another process may be appending.
    """
    damage = damaged_lines(path)
    moved = 0
    if WORKLOADS in damage:
        lines = _lines(path / WORKLOADS)
        for number in damage[WORKLOADS]:
            _warn(path / WORKLOADS, number, "rewritten from the workload")
            lines[number - 1] = _workload_line(workload, target)
        if not lines and _lines(path / RECORDS):
            _warn(path / WORKLOADS, 1, "missing; rewritten from the workload (meta.json)")
            lines = [_workload_line(workload, target)]
        _rewrite(path / WORKLOADS, lines)
        damage = damaged_lines(path)  # records checked against the repaired workloads
    if RECORDS in damage:
        moved = _set_aside(path, set(damage[RECORDS]), "")
    return moved


def _lines(file: Path) -> list[str]:
    """The file's non-blank lines; a line that is not UTF-8 is shown with its bad bytes
    replaced and a trailing U+FFFD, so it never parses as JSON (it is damaged)."""
    if not file.exists():
        return []
    lines = []
    for raw in file.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="replace") + "\ufffd")
    return lines


def _blank(file: Path) -> bool:
    """True if a line of the file is empty or whitespace only (dropped by ``_lines``)."""
    if not file.exists():
        return False
    lines = file.read_bytes().split(b"\n")
    return any(not ln.strip() for ln in lines[:-1])


def _torn(file: Path) -> bool:
    """True if the file does not end with a newline (its last write was cut short)."""
    if not file.exists() or file.stat().st_size == 0:
        return False
    with open(file, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def _rewrite(file: Path, lines: list[str]) -> None:
    write_text(file, "".join(ln + "\n" for ln in lines))


def _workload_line(workload: Workload, target: tvm.target.Target) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        ms.database.JSONDatabase(work_dir=scratch).commit_workload(workload.module(target))
        return _lines(Path(scratch) / WORKLOADS)[0]


def _warn(file: Path, number: int, action: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{file}:{number}: damaged line, {action}", LogDamageWarning,
                  stacklevel=stacklevel)


def unreadable_records(path: Path) -> list[int]:
    """1-based numbers of the record lines of log folder ``path`` that are well-formed JSON
    but that MetaSchedule cannot read (an unknown instruction, a bogus trace): found by
    opening halves of the file in a scratch folder, so a log of n records with k bad ones
    takes about k log n opens. Call it after ``repair``."""
    lines = _lines(path / RECORDS)
    workloads = (path / WORKLOADS).read_text(encoding="utf-8") if (path / WORKLOADS).exists() else ""

    def readable(numbers: list[int]) -> bool:
        return _readable(workloads, "".join(lines[i - 1] + "\n" for i in numbers))

    def bad(numbers: list[int]) -> list[int]:
        if not numbers or readable(numbers):
            return []
        if len(numbers) == 1:
            return numbers
        half = len(numbers) // 2
        return bad(numbers[:half]) + bad(numbers[half:])

    return bad(list(range(1, len(lines) + 1)))


def open_database(path: Path, workload: Workload, target: tvm.target.Target
                  ) -> ms.database.JSONDatabase:
    """MetaSchedule's database of log folder ``path`` (of ``workload`` on ``target``); a
    workload line MetaSchedule cannot read (a module that does not parse) is rewritten from
    the workload, and a record line it cannot read is moved to ``<file>.damaged`` first,
    each with a warning. Call it after ``repair``, and only while holding the log's lock."""
    try:
        return ms.database.JSONDatabase(work_dir=str(path))
    except Exception:  # noqa: BLE001 - a well-formed line MetaSchedule cannot read
        lines = _lines(path / WORKLOADS)
        bad = [i for i, line in enumerate(lines) if not _readable(line + "\n", "")]
        for i in bad:
            _warn(path / WORKLOADS, i + 1, "unreadable by MetaSchedule, rewritten from the "
                  "workload", stacklevel=4)
            lines[i] = _workload_line(workload, target)
        if bad:
            _rewrite(path / WORKLOADS, lines)
        _set_aside(path, set(unreadable_records(path)), "unreadable by MetaSchedule, ")
        return ms.database.JSONDatabase(work_dir=str(path))


def _readable(workloads: str, records: str) -> bool:
    """Whether MetaSchedule opens a database of these two files' texts."""
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / WORKLOADS).write_text(workloads, encoding="utf-8")
        (Path(scratch) / RECORDS).write_text(records, encoding="utf-8")
        try:
            ms.database.JSONDatabase(work_dir=scratch)
        except Exception:  # noqa: BLE001 - any failure to read is what is looked for
            return False
        return True


def _set_aside(path: Path, bad: set[int], why: str) -> int:
    """Move record lines ``bad`` (1-based, among the non-blank ones) to ``<file>.damaged``
    and rewrite the file without them (and without blank lines); returns how many."""
    lines = _lines(path / RECORDS)
    if bad:
        with open(path / (RECORDS + ".damaged"), "a", encoding="utf-8") as aside:
            for number in sorted(bad):
                _warn(path / RECORDS, number, f"{why}moved to {RECORDS}.damaged", stacklevel=4)
                aside.write(lines[number - 1] + "\n")
    _rewrite(path / RECORDS, [ln for i, ln in enumerate(lines) if i + 1 not in bad])
    return len(bad)

