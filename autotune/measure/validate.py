"""Pick the fastest tuning record whose kernel matches the NumPy reference."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tvm
from tvm.s_tir import meta_schedule as ms

from autotune.atomic import write_json
from autotune.errors import LogError, RemoteError
from autotune.logs.repair import LogDamageWarning
from autotune.logs.store import WINNER, LogEntry, LogStore, record_id, record_seconds
from autotune.measure.compile import check_numerics, compile_module, scheduled_module
from autotune.workload import Workload

# Checks a scheduled module against NumPy: None if right, else why not.
Check = Callable[[tvm.IRModule, Workload, tvm.target.Target], "str | None"]


@dataclass
class Choice:
    """The chosen record of a log: its id, measured seconds during tuning, compiled module."""

    record: ms.database.TuningRecord
    rid: str
    tuning_seconds: float
    module: tvm.IRModule
    rejected: int  # faster records that failed validation


def best_validated(entry: LogEntry, top_k: int = 16, check: Check | None = None) -> Choice | None:
    """The fastest of the top ``top_k`` records that builds and computes the right result.

    Each record is checked once, by ``check`` (None: on this machine; a remote device's
    for records measured there); the verdict is kept in the log, so a wrong record is
    never re-tried and never reported as best.
    """
    db = entry.database()
    mod = entry.workload.module(entry.target)
    if not db.has_workload(mod):
        return None
    wanted = str(entry.target)
    verdicts = entry.verdicts()
    rejected = 0
    for record in db.get_top_k(db.commit_workload(mod), top_k):
        if str(record.target) != wanted:
            continue  # never apply a record measured on another target
        rid = record_id(record)
        verdict = verdicts.get(rid)
        scheduled = None
        if verdict is None or verdict.get("tvm") != tvm.__version__:  # re-check on a new TVM
            verdict, scheduled = validate_record(entry, record, check)
            entry.save_verdict(rid, verdict)
        if not verdict["ok"]:
            rejected += 1
            continue
        if scheduled is None:
            scheduled = scheduled_module(entry.workload, record)
        return Choice(record, rid, record_seconds(record), scheduled, rejected)
    return None


def best_variant(
    store: LogStore, workload: Workload, target: tvm.target.Target, check: Check | None = None
) -> tuple[Workload, Choice] | None:
    """The validated kernel that serves ``workload``: from its own log or a layout variant's.

    The winner recorded by the last tuning run with variants (each re-measured by the one
    protocol) is used while it still validates; otherwise the variant whose chosen record
    MetaSchedule measured fastest. None if no log has a validated record. ``check``: as
    ``best_validated``'s.
    """
    found: dict[str, tuple[Workload, Choice]] = {}
    for wl in workload.variants():
        try:
            entry = store.open(wl, target)
        except LogError:
            continue
        choice = best_validated(entry, check=check)
        if choice is not None:
            found[wl.key] = (wl, choice)
    if not found:
        return None
    winner = recorded_winner(store, workload, target)
    if winner in found:
        return found[winner]
    return min(found.values(), key=lambda pair: pair[1].tuning_seconds)


def recorded_winner(store: LogStore, workload: Workload, target: tvm.target.Target) -> str | None:
    """The layout variant recorded as ``workload``'s winner; None if none is (or the file
    cannot be read: then the fastest validated variant serves, with a warning)."""
    file = store.path(workload, target) / WINNER
    found = _winner_file(file)
    if found is None:
        return None
    winner = found.get("winner")
    if not isinstance(winner, str):
        warnings.warn(f"{file} names no winner; the fastest validated variant serves",
                      LogDamageWarning, stacklevel=2)
        return None
    return winner


def record_winner(
    store: LogStore, workload: Workload, target: tvm.target.Target, latencies: dict[str, float]
) -> str:
    """Keep the variant with the lowest re-measured latency as ``workload``'s winner.

    Variants timed by an earlier run and not by this one (a search under another variant
    policy) keep their earlier latencies in the comparison.
    """
    folder = store.path(workload, target)
    latencies = {**_earlier_latencies(folder / WINNER), **latencies}
    winner = min(latencies, key=latencies.__getitem__)
    folder.mkdir(parents=True, exist_ok=True)  # a workload tuned only in another layout
    write_json(folder / WINNER, {"winner": winner, "latency_s": latencies})
    return winner


def _earlier_latencies(file: Path) -> dict[str, float]:
    """The re-measured latencies a winner file holds (none where it cannot be read)."""
    found = (_winner_file(file) or {}).get("latency_s")
    if not isinstance(found, dict):
        return {}
    return {k: float(v) for k, v in found.items() if isinstance(v, (int, float))}


def _winner_file(file: Path) -> dict | None:
    """A winner file's contents: None where there is none; {} where it cannot be read."""
    if not file.exists():
        return None
    try:
        found = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def check_here(mod: tvm.IRModule, workload: Workload, target: tvm.target.Target) -> str | None:
    """None if the scheduled ``mod`` matches the NumPy reference on this machine, else why not."""
    return check_numerics(compile_module(mod, target), workload, target)


def validate_record(entry: LogEntry, record, check: Check | None = None
                    ) -> tuple[dict, tvm.IRModule | None]:
    """Build ``record`` and check it against NumPy (by ``check``; None: ``check_here``):
    its verdict, and its module if right."""
    try:
        scheduled = scheduled_module(entry.workload, record)
        error = (check or check_here)(scheduled, entry.workload, entry.target)
    except RemoteError:  # the device is gone: no verdict on the record
        raise
    except Exception as err:  # a record that no longer applies or builds is a failed record
        return {"ok": False, "error": f"{type(err).__name__}: {str(err).splitlines()[0]}",
                "tvm": tvm.__version__}, None
    if error:
        return {"ok": False, "error": error, "tvm": tvm.__version__}, None
    return {"ok": True, "tvm": tvm.__version__}, scheduled
