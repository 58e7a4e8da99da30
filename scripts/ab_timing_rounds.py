"""The bench's timing one implementation after the other against in turns, on tuned logs.

Times every workload of the given suites (their kernels from the given log directories,
nothing tuned) the way ``bench`` does, once with ``Protocol(rounds=1)`` (each
implementation's samples in one stretch, one after the other) and once in turns
(``--rounds``, the protocol's default), alternating which goes first, ``--reps`` times:

    python scripts/ab_timing_rounds.py gemm-odd=/tmp/go/logs vector-ops=/tmp/vo/logs \
        --reps 2 --out ab.csv

Each row: one workload timed one way, every implementation's median, the tuned kernel's
bare time and call overhead, and its speedup over the fastest library. How far the
speedups of two repetitions of the same way differ says how much a ratio can be trusted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from bench_output import fail, write_table

from autotune.benchmark.run import competing_baselines
from autotune.errors import AutotuneError
from autotune.hardware.target import resolve_target, target_key, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.store import LogStore
from autotune.measure.compare import compare_workload
from autotune.measure.protocol import Protocol
from autotune.workload.suite import load_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="+", metavar="SUITE=LOGDIR",
                        help="a suite (shipped name or TOML file) and the logs that tuned it")
    parser.add_argument("--only", nargs="*", default=None, metavar="KEY",
                        help="time only these workloads (keys)")
    parser.add_argument("--reps", type=int, default=2, help="repetitions of both ways")
    parser.add_argument("--rounds", type=int, default=Protocol.rounds,
                        help="rounds of the in-turns way")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as CSV")
    args = parser.parse_args()
    pairs = [s.rpartition("=") for s in args.suites]
    if any(not (suite and eq and logs) for suite, eq, logs in pairs):
        fail("give each suite as SUITE=LOGDIR")
    if args.reps < 1 or args.rounds < 2:
        fail("--reps must be at least 1 and --rounds at least 2")
    try:
        jobs = [(item.workload, LogStore(logs)) for suite, _, logs in pairs
                for item in load_suite(suite).items
                if args.only is None or item.workload.key in args.only]
    except AutotuneError as err:
        fail(str(err))
    tgt = resolve_target("cpu")
    set_threads(target_threads(tgt))
    competing, _ = competing_baselines(tgt, None)
    rows = []
    for rep in range(args.reps):
        ways = (1, args.rounds) if rep % 2 == 0 else (args.rounds, 1)
        for rounds in ways:
            for wl, store in jobs:
                timed = compare_workload(wl, store, tgt, competing, Protocol(rounds=rounds))
                medians = {r["implementation"]: r["median_us"] for r in timed}
                tuned = next(r for r in timed if r["implementation"] == "tvm-tuned")
                best = min(v for k, v in medians.items() if not k.startswith("tvm-"))
                rows.append({"rep": rep, "rounds": rounds, "workload": wl.key, **medians,
                             "kernel_us": tuned["kernel_us"],
                             "call_overhead_us": tuned["call_overhead_us"],
                             "speedup_vs_best_baseline": best / medians["tvm-tuned"]})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["target"] = target_key(tgt)
    table["command"] = "python " + " ".join(sys.argv)
    write_table(table, args.out)


if __name__ == "__main__":
    main()
