"""Build the seed logs packaged with autotune (``autotune/seeds``) from tuning logs.

Each log under ``--log-dir`` gives its ``--per-log`` fastest records that build and match
NumPy, written in MetaSchedule's database format beside the log's ``meta.json`` and their
verdicts. A first search of a new shape starts from them (``autotune.transfer``) when this
target has no similar logs of its own. Build them from reference shapes that no suite or
benchmark measures, so that what the benchmarks report of carried-over schedules stays
held out. ``--tune`` first tunes ``REFERENCE`` into ``--log-dir`` (each conv in its layout
variants), one after another, each starting from those before it:

    python scripts/make_seeds.py --log-dir LOGS [--tune] [--per-log 8] [--out autotune/seeds]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from tvm.s_tir import meta_schedule as ms

from autotune.logs import LogStore, record_id
from autotune.select import record_seconds, validate_record
from autotune.target import target_key


# Common network shapes, none in a suite or the demo, and the trials each was tuned with.
REFERENCE = [
    ("conv2d", dict(n=1, c=32, h=28, w=28, k=64, kh=3, kw=3, padding=1), 600),
    ("conv2d", dict(n=1, c=64, h=28, w=28, k=128, kh=1, kw=1), 300),
    ("conv2d", dict(n=1, c=32, h=56, w=56, k=64, kh=3, kw=3, stride=2, padding=1), 300),
    ("conv2d", dict(n=1, c=64, h=56, w=56, k=64, kh=3, kw=3, padding=1, groups=64), 200),
    ("conv2d", dict(n=1, c=3, h=112, w=112, k=32, kh=7, kw=7, stride=2, padding=3), 300),
    ("gemm", dict(m=256, n=256, k=256), 200),
    ("gemm", dict(m=64, n=1024, k=512), 200),
]


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
        db.commit_tuning_record(ms.database.TuningRecord(
            record.trace, workload, record.run_secs, record.target, record.args_info))
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
    parser.add_argument("--per-log", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("autotune/seeds"))
    parser.add_argument("--tune", action="store_true", help="tune REFERENCE first")
    args = parser.parse_args()
    if args.tune:
        import autotune
        import autotune.transfer
        autotune.transfer.SEED_DIR = None  # from scratch, not from the seeds being rebuilt
        for kernel, params, trials in REFERENCE:
            autotune.tune(autotune.Workload(kernel, **params), "cpu", trials=trials,
                          log_dir=args.log_dir, variants=kernel == "conv2d")
    out = LogStore(args.out)
    for entry in LogStore(args.log_dir).entries():
        kept = copy_best(entry, out, args.per_log)
        print(f"{target_key(entry.target)}/{entry.workload.key}: {kept} schedules")


if __name__ == "__main__":
    main()
