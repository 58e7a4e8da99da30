"""Build the seed logs packaged with autotune (``autotune/search/seeds``) from tuning logs.

Each log under ``--log-dir`` gives its ``--per-log`` fastest records that build and match
NumPy, written in MetaSchedule's database format beside the log's ``meta.json`` and their
verdicts. A first search of a new shape starts from them (``autotune.search.transfer``) when this
target has no similar logs of its own; a shape never starts from its own packaged log.
Seeds are only as good as the search that found them: build them from long runs (the
shipped ones are ``bench_convergence.py``'s 1000-trial logs), not from short ones:

    python scripts/make_seeds.py --log-dir results/logs [--per-log 16] [--out autotune/search/seeds]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from autotune.hardware.target import target_key
from autotune.logs.store import LogStore, record_id, record_seconds
from autotune.logs.tools import commit_copy
from autotune.measure.validate import validate_record


def copy_best(entry, out: LogStore, per_log: int) -> int:
    """Write ``entry``'s ``per_log`` fastest right schedules into ``out``; how many."""
    dest_path = out.path(entry.workload, entry.target)
    shutil.rmtree(dest_path, ignore_errors=True)
    dest = out.open(entry.workload, entry.target, create=True)
    db = dest.database()
    workload = db.commit_workload(entry.workload.module())
    records = [r for r in entry.database().get_all_tuning_records()
               if str(r.target) == str(entry.target)]
    kept, seen = 0, set()
    for record in sorted(records, key=record_seconds):
        if record_id(record) in seen:  # one schedule measured twice
            continue
        seen.add(record_id(record))
        verdict, _ = validate_record(entry, record)
        if not verdict["ok"]:
            continue
        commit_copy(db, workload, record)
        dest.save_verdict(record_id(record), verdict)
        kept += 1
        if kept == per_log:
            break
    for lock in dest_path.glob(".*lock"):
        lock.unlink()
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-dir", required=True, type=Path)
    parser.add_argument("--per-log", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("autotune/search/seeds"))
    args = parser.parse_args()
    if args.per_log < 1:
        parser.error(f"--per-log must be >= 1, got {args.per_log}")
    entries = LogStore(args.log_dir).entries()
    if not entries:
        parser.error(f"no tuning logs under {args.log_dir}")
    out = LogStore(args.out)
    for entry in entries:
        kept = copy_best(entry, out, args.per_log)
        print(f"{target_key(entry.target)}/{entry.workload.key}: {kept} schedules")


if __name__ == "__main__":
    main()
