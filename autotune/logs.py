"""Tuning logs on disk, one MetaSchedule JSON database per (target, workload).

Layout::

    LOG_DIR/<target key>/<workload key>/
        database_workload.json        MetaSchedule's own files: plain
        database_tuning_record.json   JSONDatabase(work_dir=...) opens them
        meta.json                     workload, target JSON, TVM version
        validation.json               verdict of each record checked against NumPy
        logs/                         MetaSchedule's text logs

The target key carries a hash of the full target JSON, and ``meta.json`` is checked on
every open, so a log tuned for one target is never applied to another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import tvm
from tvm.s_tir import meta_schedule as ms

from .errors import LogError
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

    def database(self) -> ms.database.JSONDatabase:
        """The MetaSchedule database (created if absent)."""
        return ms.database.JSONDatabase(work_dir=str(self.path))

    def verdicts(self) -> dict[str, dict]:
        """Validation verdicts by record id (see ``record_id``)."""
        file = self.path / VERDICTS
        return json.loads(file.read_text()) if file.exists() else {}

    def save_verdict(self, rid: str, verdict: dict) -> None:
        verdicts = self.verdicts()
        verdicts[rid] = verdict
        _write_json(self.path / VERDICTS, verdicts)


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
            except OSError as err:
                raise LogError(f"cannot create log directory {path}: {err.strerror}") from None
            _write_json(
                meta_file,
                {"workload": workload.to_json(), "target": want, "tvm_version": tvm.__version__},
            )
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


def record_id(record: ms.database.TuningRecord) -> str:
    """A stable id of a record's schedule: the hash of its trace."""
    return hashlib.sha256(str(record.trace).encode()).hexdigest()[:16]


def _write_json(path: Path, data: object) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
