"""Log maintenance: list, show, merge, prune and export records, target by target.

Logs of different targets are never mixed: merging copies each source log into the folder
of its own target, and a record naming another target than its log is skipped.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import pandas as pd
from tvm.s_tir import meta_schedule as ms

from autotune.atomic import replacing
from autotune.errors import LogError
from autotune.hardware.target import same_target, target_key
from autotune.logs.events import trials_done
from autotune.logs.repair import RECORDS, WORKLOADS
from autotune.logs.store import LogEntry, LogStore, record_id, record_seconds


def records_table(entry: LogEntry) -> pd.DataFrame:
    """One row per record of a log, fastest first: id, seconds, validation verdict."""
    db = entry.database()
    verdicts = entry.verdicts()
    rows = []
    for record in db.get_all_tuning_records():
        rid = record_id(record)
        verdict = verdicts.get(rid)
        rows.append({
            "target": target_key(entry.target),
            "workload": entry.workload.key,
            "record": rid,
            "run_us": record_seconds(record) * 1e6,
            "validated": None if verdict is None else bool(verdict["ok"]),
            "error": (verdict or {}).get("error", ""),
            "same_target": same_target(record.target, entry.target),
        })
    columns = ["target", "workload", "record", "run_us", "validated", "error", "same_target"]
    return pd.DataFrame(rows, columns=columns).sort_values("run_us", ignore_index=True)


def list_logs(log_dir: str | Path) -> pd.DataFrame:
    """Every log: target, workload, records, trials, best validated and best measured time."""
    rows = []
    for entry in LogStore(log_dir).entries():
        table = records_table(entry)
        ok = table[table["validated"] == True]  # noqa: E712  (None means not checked yet)
        rows.append({
            "target": target_key(entry.target),
            "workload": entry.workload.key,
            "records": len(table),
            "trials": trials_done(entry.path),
            "best_validated_us": ok["run_us"].min() if len(ok) else float("nan"),
            "best_measured_us": table["run_us"].min() if len(table) else float("nan"),
        })
    return pd.DataFrame(rows, columns=["target", "workload", "records", "trials",
                                       "best_validated_us", "best_measured_us"])


def find_entries(log_dir: str | Path, workload_key: str) -> list[LogEntry]:
    """The logs of one workload, on every target."""
    found = [e for e in LogStore(log_dir).entries() if e.workload.key == workload_key]
    if not found:
        raise LogError(f"no log for workload {workload_key} under {log_dir}")
    return found


def commit_copy(db: ms.database.Database, workload: ms.database.Workload,
                record: ms.database.TuningRecord) -> None:
    """Commit a copy of another database's ``record`` to ``db``, under ``db``'s ``workload``."""
    db.commit_tuning_record(ms.database.TuningRecord(
        record.trace, workload, record.run_secs, record.target, record.args_info))


def merge(sources: list[str | Path], into: str | Path) -> list[tuple[str, str, int]]:
    """Copy records of the logs under ``sources`` into ``into``.

    Returns (source, target/workload, new records) per source log. Records already present
    (the same schedule) are not repeated.
    """
    added: list[tuple[str, str, int]] = []
    dest_store = LogStore(into)
    for source in sources:
        for entry in LogStore(source).entries():
            dest = dest_store.open(entry.workload, entry.target, create=True)
            with dest.lock():
                db = dest.database()
                have = {record_id(r) for r in db.get_all_tuning_records()}
                workload = db.commit_workload(entry.workload.module(entry.target))
                count = 0
                for record in entry.database().get_all_tuning_records():
                    if str(record.target) != str(entry.target):
                        warnings.warn(f"{entry.path}: a record for another target is skipped")
                        continue
                    if record_id(record) in have:
                        continue
                    have.add(record_id(record))
                    commit_copy(db, workload, record)
                    count += 1
            added.append((str(source), f"{target_key(entry.target)}/{entry.workload.key}", count))
    return added


def prune(log_dir: str | Path, keep: int) -> dict[str, int]:
    """Keep the ``keep`` fastest records of every log (the old file is appended to
    ``database_tuning_record.json.pruned``, so nothing is lost)."""
    if keep < 1:
        raise LogError(f"keep must be >= 1, got {keep}")
    removed: dict[str, int] = {}
    for entry in LogStore(log_dir).entries():
        with entry.lock():
            db = entry.database()
            records = sorted(db.get_all_tuning_records(), key=record_seconds)
            if len(records) <= keep:
                removed[entry.workload.key] = 0
                continue
            with tempfile.TemporaryDirectory() as scratch:
                fresh = ms.database.JSONDatabase(work_dir=scratch)
                workload = fresh.commit_workload(entry.workload.module(entry.target))
                for record in records[:keep]:
                    commit_copy(fresh, workload, record)
                old = entry.path / RECORDS
                with open(old.with_name(RECORDS + ".pruned"), "a", encoding="utf-8") as aside:
                    aside.write(old.read_text())
                for name in (WORKLOADS, RECORDS):
                    with replacing(entry.path / name) as tmp:
                        shutil.copy(Path(scratch) / name, tmp)
            removed[f"{target_key(entry.target)}/{entry.workload.key}"] = len(records) - keep
    return removed


def records_csv(log_dir: str | Path, out: str | Path) -> Path:
    """Every record of every log as one CSV."""
    tables = [records_table(e) for e in LogStore(log_dir).entries()]
    if not tables:
        raise LogError(f"no logs under {log_dir}")
    out = Path(out)
    pd.concat(tables, ignore_index=True).to_csv(out, index=False)
    return out
