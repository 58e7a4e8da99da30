"""Cold start: how close a short search gets to a long one, by search settings.

MetaSchedule's cost model ranks at random until it holds 100 measurements, and a 64-trial
search is one batch of 64: a random search. Each arm tunes each workload afresh for TRIALS
trials (seeds 0..R-1, each run in a fresh process, one at a time); the run's best validated
kernel and the best of the workload's long log (``results/logs``, e.g. 1000 trials from
``bench_convergence.py``) are then timed by the one protocol in that same process, and
``fraction`` = long-log latency / run latency. Arms:

- ``default``: batches of 64, model ranks after 100 measurements (MetaSchedule's), in an
  empty log directory, nothing carried over (``transfer=False``);
- ``early16``: batches of 16, model ranks after the first 16 and retrains every batch;
- ``transfer``: as ``default``, with the other workloads' long logs beside it, so the
  search starts from their best schedules (``autotune.search.transfer``); the workload's own
  long log is held out, and so are the packaged seeds;
- ``packaged``: as ``default`` with transfer on: the search starts from the seeds
  packaged with autotune alone (``autotune/search/seeds``; a workload never starts from its own
  packaged log, so each of the default workloads starts from the other's).

    python scripts/bench_cold_start.py [--trials 64] [--repeats 3] [--arms default,packaged]
                                       [--name cold-start] [--out results] [KEY ...]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from bench_output import fenced, write_results
from fresh_process import add_one_option, run_fresh, serve_one

DEFAULT_WORKLOADS = [
    "conv2d-n1-c37-h61-w61-k53-kh3-kw3-s2x2-p1x1-d1x1-g1-float32",
    "conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32",
]


class Arm(NamedTuple):
    """Search settings of one arm."""

    per_iter: int  # trials per batch
    warmup: int | None  # measurements before the cost model ranks (None: MetaSchedule's 100)
    donors: bool  # other workloads' long logs beside the run's
    packaged: bool  # autotune's packaged seeds


ARMS = {"default": Arm(64, None, donors=False, packaged=False),
        "early16": Arm(16, 16, donors=False, packaged=False),
        "transfer": Arm(64, None, donors=True, packaged=False),
        "packaged": Arm(64, None, donors=False, packaged=True)}
LONG_LOGS = Path("results/logs")


def run_one(arm: str, key: str, trials: int, work: Path, seed: int) -> dict:
    """Tune ``key`` with one arm in this process, then time it against the long log's best."""
    from bench_convergence import timed_best

    import autotune
    from autotune.hardware.target import resolve_target
    from autotune.logs.store import LogStore

    wl, tgt = autotune.Workload.from_key(key), resolve_target("cpu")
    settings = ARMS[arm]
    log_dir = work / f"{arm}-{seed}-{wl.key}"
    if settings.donors:
        for entry in LogStore(LONG_LOGS).entries(tgt):
            if entry.workload != wl:
                shutil.copytree(entry.path, LogStore(log_dir).path(entry.workload, tgt))
    started = time.perf_counter()
    search = autotune.SearchOptions(seed=seed, trials_per_iter=settings.per_iter,
                                    model_warmup=settings.warmup,
                                    transfer=settings.donors or settings.packaged,
                                    **({} if settings.packaged else {"seed_logs": None}))
    autotune.tune(wl, tgt, trials=trials, log_dir=log_dir, progress=False, search=search)
    seconds = time.perf_counter() - started
    long_log = LogStore(LONG_LOGS).open(wl, tgt)
    run_s = timed_best(LogStore(log_dir).open(wl, tgt))
    long_s = timed_best(long_log)
    return {"workload": key, "arm": arm, "seed": seed, "seconds": seconds,
            "run_us": run_s * 1e6, "long_us": long_s * 1e6, "fraction": long_s / run_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT_WORKLOADS)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arms", default="default,early16",
                        help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--name", default="cold-start", help="output file name, no suffix")
    parser.add_argument("--out", default="results")
    add_one_option(parser)
    args = parser.parse_args()
    if serve_one(args, run_one):
        return
    arms = args.arms.split(",")
    if unknown := set(arms) - set(ARMS):
        sys.exit(f"unknown arm(s) {', '.join(sorted(unknown))}: choose from {', '.join(ARMS)}")

    import pandas as pd

    from autotune.hardware.target import resolve_target, target_key
    from autotune.logs.events import trials_done
    from autotune.logs.store import LogStore
    from autotune.workload import Workload

    tgt = resolve_target("cpu")
    long_trials = {}
    for key in args.workloads:
        path = LogStore(LONG_LOGS).path(Workload.from_key(key), tgt)
        if not path.exists():
            sys.exit(f"no long log for {key} under {LONG_LOGS}: run bench_convergence.py first")
        long_trials[key] = trials_done(path)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as work:
        for key, seed, arm in itertools.product(args.workloads, range(args.repeats), arms):
            print(f"{arm:>8}  {key}  seed {seed}  {args.trials} trials ...", flush=True)
            row = run_fresh(__file__, args.trials, arm, key, work, seed)
            row["long_trials"] = long_trials[key]
            print(f"          {row['run_us']:.1f} us vs {row['long_us']:.1f} us "
                  f"({row['fraction']:.0%}) in {row['seconds']:.0f} s", flush=True)
            rows.append(row)
    table = pd.DataFrame(rows)
    summary = table.groupby(["workload", "arm"])[["fraction", "seconds"]].median().unstack("arm")
    write_results(
        Path(args.out) / target_key(tgt), args.name, table,
        f"Cold start: {args.trials} trials against the long log's best",
        f"fraction = latency of the long log's best / latency of the {args.trials}-trial "
        f"run's best, both timed in the run's process; medians of {args.repeats} seeds. "
        f"Every run in {args.name}.csv.",
        [fenced(summary, index=True), fenced(table)])


if __name__ == "__main__":
    main()
