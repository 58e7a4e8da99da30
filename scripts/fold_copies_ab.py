"""Tuned schedules as logged and with their copy passes folded (InlineCopies), in turns.

For each workload of a suite, the variant that serves it from ``--log-dir``
(``best_variant``) gives its ``--top`` fastest records; each is built as the log holds it
and again with ``autotune.search.postprocs.InlineCopies`` applied after its trace (the
epilogue computed in the copy-out block, a padding that pads nothing read through), the
second checked against NumPy. Both are timed as a package's user calls them, on the same
input sets, in ``--rounds`` rounds. Records made before the postprocessor existed keep
their copy passes, so this is the same schedule with and without them (folded after the
target's postprocessors ran, where the search folds before them: the folded block keeps
the loops its copy-out had); a record that has nothing to fold is left out:

    python scripts/fold_copies_ab.py SUITE --log-dir /tmp/a/logs --top 3 --out t.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from functools import partial
from pathlib import Path

import pandas as pd
import tvm
from bench_output import fail, write_table

from autotune.errors import AutotuneError
from autotune.hardware.target import resolve_target, target_key, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.store import LogStore, record_seconds
from autotune.measure.compile import (
    check_numerics,
    compile_module,
    prepare_call,
    protocol_for,
    scheduled_module,
)
from autotune.measure.device import time_in_turns
from autotune.measure.protocol import input_sets, measure
from autotune.measure.validate import best_variant
from autotune.search.postprocs import InlineCopies
from autotune.workload.suite import load_suite
from autotune.workload.template import block_names


def folded(variant, record) -> tuple[tvm.IRModule, tvm.IRModule] | None:
    """The record's module as logged and with its copy passes folded; None if none are."""
    logged = scheduled_module(variant, record)
    sch = tvm.s_tir.Schedule(logged)
    InlineCopies().apply(sch)
    unchanged = block_names(sch.mod["main"]) == block_names(logged["main"])
    return None if unchanged else (logged, sch.mod)


def compare(suite_name: str, log_dir: Path, target_spec: str, top: int, rounds: int,
            repeat: int) -> pd.DataFrame:
    tgt = resolve_target(target_spec)
    set_threads(target_threads(tgt))
    protocol = protocol_for(tgt)
    timed = dataclasses.replace(protocol, repeat=repeat)
    rows = []
    for wl in load_suite(suite_name).workloads:
        found = best_variant(LogStore(log_dir), wl, tgt)
        if found is None:
            print(f"{wl.key}: no validated kernel under {log_dir}", file=sys.stderr)
            continue
        variant = found[0]
        db = LogStore(log_dir).open(variant, tgt).database()
        records = db.get_top_k(db.commit_workload(variant.module(tgt)), top)
        sets = input_sets(wl, protocol.sets_for(wl))
        for rank, record in enumerate(records):
            pair = folded(variant, record)
            if pair is None:
                continue
            kernels = [compile_module(mod, tgt) for mod in pair]
            problem = check_numerics(kernels[1], variant, tgt)
            if problem:
                fail(f"{variant.key} record {rank}: folded, it is wrong: {problem}")
            timers = [partial(measure, prepare_call(k, variant, sets, tgt), timed) for k in kernels]
            logged, fold = (m * 1e6 for m in time_in_turns(timers, rounds))
            rows.append({"workload": wl.key, "variant": variant.key, "rank": rank,
                         "tuning_us": record_seconds(record) * 1e6, "as_logged_us": logged,
                         "folded_us": fold, "speedup": logged / fold, "rounds": rounds,
                         "target": target_key(tgt)})
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="a shipped suite's name or a TOML file")
    parser.add_argument("--log-dir", type=Path, required=True)
    parser.add_argument("--target", default="cpu")
    parser.add_argument("--top", type=int, default=3, help="records per workload")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="samples per round")
    parser.add_argument("--out", type=Path, help="CSV file to write")
    args = parser.parse_args()
    if not args.log_dir.is_dir():
        fail(f"no log directory {args.log_dir}")
    try:
        table = compare(args.suite, args.log_dir, args.target, args.top, args.rounds, args.repeat)
    except AutotuneError as err:
        fail(str(err))
    if table.empty:
        print("no record served here has copy passes to fold")
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    write_table(table, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
