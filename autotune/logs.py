"""Tuning logs on disk, one MetaSchedule JSON database per (target, workload).

Layout::

    LOG_DIR/<target key>/<workload key>/
        database_workload.json        MetaSchedule's own files: plain
        database_tuning_record.json   JSONDatabase(work_dir=...) opens them
        meta.json                     workload, target JSON, TVM version
        validation.json               verdict of each record checked against NumPy
        events.jsonl                  one line per measured candidate (see events.py)
        .lock                         held by the process tuning this log
        logs/                         MetaSchedule's text logs

The target key carries a hash of the full target JSON, and ``meta.json`` is checked on
every open, so a log tuned for one target is never applied to another. One process at a
time tunes a log (a file lock); damaged lines from a crash mid-write are set aside with a
warning before MetaSchedule reads the files (see logrepair.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import filelock
import tvm
from tvm.s_tir import meta_schedule as ms

from .errors import LogError
from .logrepair import RECORDS, WORKLOADS, damaged_lines, repair
from .target import target_json, target_key
from .workload import Workload

META = "meta.json"
VERDICTS = "validation.json"


@dataclass(frozen=True)
class LogEntry:
    """One workload's log for one target."""

    path: Path
    workload: Workload
    target: tvm.target.Target

    def lock(self) -> filelock.FileLock:
        """The lock a tuning process holds on this log (re-entrant within a process)."""
        return _lock(str(self.path / ".lock"))

    def database(self) -> ms.database.JSONDatabase:
        """The MetaSchedule database (created if absent), damaged lines set aside first.

        If another process is tuning this log, its files are not touched: a repaired copy
        is opened instead (records committed to it are not kept).
        """
        if damaged_lines(self.path):
            try:
                with self.lock().acquire(timeout=0):
                    repair(self.path, self.workload)
            except filelock.Timeout:
                return _repaired_copy(self)
        return ms.database.JSONDatabase(work_dir=str(self.path))

    def has_records(self) -> bool:
        """Whether any candidate was measured into this log (by a run of ours or merged in)."""
        file = self.path / RECORDS
        return file.exists() and file.stat().st_size > 0

    def verdicts(self) -> dict[str, dict]:
        """Validation verdicts by record id (see ``record_id``)."""
        file = self.path / VERDICTS
        return json.loads(file.read_text()) if file.exists() else {}

    def save_verdict(self, rid: str, verdict: dict) -> None:
        with _lock(str(self.path / ".validation.lock")):
            verdicts = self.verdicts()
            verdicts[rid] = verdict
            write_json(self.path / VERDICTS, verdicts)


class LogStore:
    """The log directory: finds, creates and lists per-target, per-workload logs."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, workload: Workload, target: tvm.target.Target) -> Path:
        return self.root / target_key(target) / workload.key

    def open(self, workload: Workload, target: tvm.target.Target, create: bool = False) -> LogEntry:
        """The log of ``workload`` on ``target``; LogError if missing (unless ``create``)."""
        path = self.path(workload, target)
        meta_file = path / META
        want = target_json(target)
        if meta_file.exists():
            meta = json.loads(meta_file.read_text())
            if meta.get("target") != want:
                raise LogError(
                    f"log {path} was tuned for target {json.dumps(meta.get('target'))}, "
                    f"not {json.dumps(want)}; it is not applied to another target"
                )
        elif create:
            try:
                path.mkdir(parents=True, exist_ok=True)
                write_json(
                    meta_file,
                    {"workload": workload.to_json(), "target": want,
                     "tvm_version": tvm.__version__},
                )
            except OSError as err:
                raise LogError(
                    f"cannot write the log directory {path}: {err.strerror or err}; "
                    "give a writable --log-dir"
                ) from None
        else:
            raise LogError(
                f"no tuning log for {workload.key} on target {target_key(target)} "
                f"under {self.root}; tune it first"
            )
        return LogEntry(path, workload, target)

    def entries(self) -> list[LogEntry]:
        """Every log under the root, whatever its target."""
        found = []
        for meta_file in sorted(self.root.glob(f"*/*/{META}")):
            meta = json.loads(meta_file.read_text())
            found.append(
                LogEntry(
                    meta_file.parent,
                    Workload.from_json(meta["workload"]),
                    tvm.target.Target(meta["target"]),
                )
            )
        return found


@cache
def _lock(path: str) -> filelock.FileLock:
    return filelock.FileLock(path)


def _repaired_copy(entry: LogEntry) -> ms.database.JSONDatabase:
    scratch = Path(tempfile.mkdtemp(prefix="autotune-log-"))
    for name in (WORKLOADS, RECORDS):
        if (entry.path / name).exists():
            shutil.copy(entry.path / name, scratch / name)
    repair(scratch, entry.workload)
    return ms.database.JSONDatabase(work_dir=str(scratch))


def record_id(record: ms.database.TuningRecord) -> str:
    """A stable id of a record's schedule: the hash of its trace."""
    return hashlib.sha256(str(record.trace).encode()).hexdigest()[:16]


def write_json(path: Path, data: object) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
