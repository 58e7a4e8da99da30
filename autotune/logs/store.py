"""Tuning logs on disk, one MetaSchedule JSON database per (target, workload).

Layout, and which module adds each file (this is the one place that lists them)::

    LOG_DIR/<target key>/<workload key>/
        database_workload.json        MetaSchedule's own files: plain
        database_tuning_record.json   JSONDatabase(work_dir=...) opens them (search.tune,
                                      through logs.routed; logs.tools merge and prune)
        meta.json                     format, workload, target JSON, TVM version (here)
        validation.json               verdict of each record checked against NumPy (here,
                                      for measure.validate)
        variant.json                  the winning layout variant and each one's time, in
                                      the base workload's log (measure.validate)
        events.jsonl                  one line per measured candidate (logs.events)
        *.damaged                     lines set aside as damaged (logs.repair)
        database_tuning_record.json.pruned   records removed by ``logs prune`` (logs.tools)
        .lock                         held by the process tuning this log (here)
        logs/                         MetaSchedule's text logs (search.tune)
    LOG_DIR/<target key>/_suite/logs/ MetaSchedule's text logs of multi-workload runs

The target key carries a hash of the full target JSON, and ``meta.json`` is checked on
every open, so a log tuned for one target is never applied to another. One process at a
time tunes a log (a file lock); damaged lines from a crash mid-write are set aside with a
warning before MetaSchedule reads the files (logs.repair).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import filelock
import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from autotune.atomic import write_json
from autotune.errors import AutotuneError, LogError, first_line
from autotune.hardware.target import same_target, target_json, target_key
from autotune.logs.repair import (
    RECORDS,
    WORKLOADS,
    LogDamageWarning,
    damaged_lines,
    open_database,
    repair,
)
from autotune.workload import Workload

DEFAULT_LOG_DIR = "results/logs"
META = "meta.json"
META_FORMAT = 1  # of meta.json; raised when its fields change meaning
VERDICTS = "validation.json"
WINNER = "variant.json"  # in a workload's folder: which layout variant won, each one's time


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
                    repair(self.path, self.workload, self.target)
            except filelock.Timeout:
                return _repaired_copy(self)
        try:
            return ms.database.JSONDatabase(work_dir=str(self.path))
        except Exception:  # noqa: BLE001 - a well-formed line MetaSchedule cannot read
            try:
                with self.lock().acquire(timeout=0):
                    return open_database(self.path, self.workload, self.target)
            except filelock.Timeout:
                return _repaired_copy(self)

    def has_records(self) -> bool:
        """Whether any candidate was measured into this log (by a run of ours or merged in)."""
        file = self.path / RECORDS
        return file.exists() and file.stat().st_size > 0

    def verdicts(self) -> dict[str, dict]:
        """Validation verdicts by record id (see ``record_id``). A file that cannot be read
        counts as none (with a warning): its records are validated again."""
        file = self.path / VERDICTS
        if not file.exists():
            return {}
        try:
            verdicts = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            verdicts = None
        if not isinstance(verdicts, dict):
            warnings.warn(f"{file} is not a verdict file; its records are validated again",
                          LogDamageWarning, stacklevel=2)
            return {}
        return {rid: v for rid, v in verdicts.items()
                if isinstance(v, dict) and isinstance(v.get("ok"), bool)}

    def save_verdict(self, rid: str, verdict: dict) -> None:
        self.save_verdicts({rid: verdict})

    def save_verdicts(self, new: dict[str, dict], keep_old: bool = False) -> None:
        """Record verdicts by record id (``keep_old``: where one is already kept, keep it)."""
        with _lock(str(self.path / ".validation.lock")):
            verdicts = self.verdicts()
            verdicts.update({rid: v for rid, v in new.items()
                             if not (keep_old and rid in verdicts)})
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
            meta = read_meta(meta_file)
            if not same_target(meta.get("target") or {}, want):
                raise LogError(
                    f"log {path} was tuned for target {json.dumps(meta.get('target'))}, "
                    f"not {json.dumps(want)}; it is not applied to another target"
                )
        elif create:
            try:
                path.mkdir(parents=True, exist_ok=True)
                write_json(
                    meta_file,
                    {"format": META_FORMAT, "workload": workload.to_json(), "target": want,
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

    def entries(self, target: tvm.target.Target | None = None) -> list[LogEntry]:
        """Every log under the root: of every target, or only of ``target``. A log whose
        ``meta.json`` cannot be read is left out with one warning naming it, so one bad
        folder does not stop the rest (transfer and the cost model read every log)."""
        found = []
        want = target_json(target) if target is not None else None
        for meta_file in sorted(self.root.glob(f"*/*/{META}")):
            try:
                meta = read_meta(meta_file)
                if want is not None and not same_target(meta["target"], want):
                    continue
                found.append(LogEntry(meta_file.parent, Workload.from_json(meta["workload"]),
                                      tvm.target.Target(meta["target"])))
            except (AutotuneError, RuntimeError, ValueError, TypeError, KeyError) as err:
                warnings.warn(f"log {meta_file.parent} skipped: {first_line(err)}",
                              LogDamageWarning, stacklevel=2)
        return found


def read_meta(meta_file: Path) -> dict:
    """A log's ``meta.json``: LogError if it is not one (bad JSON, missing or mistyped
    fields, not UTF-8) or a newer autotune wrote it (format > META_FORMAT). Logs written
    before the format field existed are format 1."""
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LogError(f"{meta_file} is not valid JSON ({err}); move the folder away or "
                       "delete it") from None
    except OSError as err:
        raise LogError(f"{meta_file} cannot be read: {err.strerror or err}") from None
    if not (isinstance(meta, dict) and isinstance(meta.get("workload"), dict)
            and isinstance(meta.get("target"), dict)
            and isinstance(meta.get("format", 1), int)):
        raise LogError(f"{meta_file} is not a log's meta.json (it needs a 'workload' and a "
                       "'target' object)")
    if meta.get("format", 1) > META_FORMAT:
        raise LogError(f"{meta_file} is log format {meta['format']}, newer than this "
                       f"autotune reads ({META_FORMAT}); upgrade autotune to use it")
    return meta


@cache
def _lock(path: str) -> filelock.FileLock:
    return filelock.FileLock(path)


def _repaired_copy(entry: LogEntry) -> ms.database.JSONDatabase:
    scratch = Path(tempfile.mkdtemp(prefix="autotune-log-"))
    for name in (WORKLOADS, RECORDS):
        if (entry.path / name).exists():
            shutil.copy(entry.path / name, scratch / name)
    repair(scratch, entry.workload, entry.target)
    return open_database(scratch, entry.workload, entry.target)


def run_seconds(run_secs) -> float | None:
    """Seconds of one measured candidate, from MetaSchedule's samples (a record's
    ``run_secs`` or a runner result's): their mean, as MetaSchedule ranks them; None when
    nothing was measured. The one place this is computed."""
    if not run_secs:
        return None
    return float(np.mean([float(s) for s in run_secs]))


def record_seconds(record: ms.database.TuningRecord) -> float:
    """Mean measured run time of a record (inf if it holds no measurement)."""
    seconds = run_seconds(record.run_secs)
    return math.inf if seconds is None else seconds


def record_id(record: ms.database.TuningRecord) -> str:
    """A stable id of a record's schedule: the hash of its trace."""
    return hashlib.sha256(str(record.trace).encode()).hexdigest()[:16]


def trace_json(trace: tvm.s_tir.schedule.Trace) -> list:
    """A schedule trace as plain JSON, as MetaSchedule's log holds it
    (``Trace.apply_json_to_schedule`` replays it)."""

    def plain(value):
        if isinstance(value, tvm.tirx.IntImm):  # booleans too, as 1 and 0 (as the log has them)
            return int(value.value)
        if isinstance(value, tvm.tirx.FloatImm):
            return float(value.value)
        if isinstance(value, (list, tuple)) or type(value).__name__ == "Array":
            return [plain(v) for v in value]
        if isinstance(value, dict) or type(value).__name__ == "Map":
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, bool):
            return int(value)
        return value if value is None or isinstance(value, (int, float)) else str(value)

    return plain(trace.as_json())
