"""Cold start: the same short search with a cold cost model and with one warmed up on other logs.

For each workload and seed, two runs of ``--trials`` trials, each in a fresh process on a
fresh copy of the prior logs (``--prior``: every log there for the host CPU, except the
workload's own): ``cold`` (MetaSchedule's default: random scores until 100 measurements)
and ``warm`` (``autotune.search.cost_model``: trained on the prior logs first). The final kernel
of each run is validated and timed by the same code. Writes ``warm-start.csv`` and ``.md``:

    python scripts/bench_warm_start.py [--prior results/logs] [--trials 64] [--repeats 2] [KEY ...]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
import time
from pathlib import Path

from bench_output import fenced, write_results
from fresh_process import add_one_option, run_fresh, serve_one

DEFAULT_WORKLOADS = [
    "conv2d-n1-c3-h115-w115-k29-kh7-kw7-s2x2-p3x3-d1x1-g1-float32",
    "conv2d-n1-c67-h28-w28-k131-kh1-kw1-s1x1-p0x0-d1x1-g1-float32",
    "conv2d-n1-c32-h33-w33-k32-kh3-kw3-s1x1-p2x2-d2x2-g1-float32",
]


def run_one(arm: str, key: str, trials: int, logs: Path, seed: int) -> dict:
    """Tune ``key`` into ``logs`` with a cold or warm cost model; return its numbers."""
    import autotune
    from autotune.hardware.target import resolve_target

    wl, tgt = autotune.Workload.from_key(key), resolve_target("cpu")
    started = time.perf_counter()
    search = autotune.SearchOptions(seed=seed, warm_start=arm == "warm", transfer=False)
    result = autotune.tune(wl, tgt, trials=trials, log_dir=logs, progress=False,
                           search=search)  # the cost model alone
    return {"workload": key, "arm": arm, "seed": seed, "trials": result.trials_run,
            "seconds": time.perf_counter() - started, "validated": result.validated,
            "latency_us": result.latency_s * 1e6 if result.latency_s else None,
            "gflops": result.gflops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT_WORKLOADS)
    parser.add_argument("--prior", default="results/logs", help="Log root the warm model learns from.")
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="results")
    add_one_option(parser)
    args = parser.parse_args()
    if serve_one(args, run_one):
        return

    import pandas as pd

    from autotune.hardware.target import resolve_target, target_key

    key_dir = target_key(resolve_target("cpu"))
    prior = Path(args.prior) / key_dir
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as work:
        for n, (key, seed, arm) in enumerate(itertools.product(
                args.workloads, range(args.repeats), ("cold", "warm"))):
            logs = Path(work) / str(n)
            shutil.copytree(prior, logs / key_dir, ignore=shutil.ignore_patterns(key, ".lock"))
            print(f"{arm:>5}  {key}  seed {seed}  {args.trials} trials ...", flush=True)
            row = run_fresh(__file__, args.trials, arm, key, logs, seed)
            print(f"       {row['seconds']:.0f} s, best {row['latency_us'] or float('nan'):.1f} us",
                  flush=True)
            rows.append(row)
            shutil.rmtree(logs)
    table = pd.DataFrame(rows)
    wide = table.groupby(["workload", "arm"]).median(numeric_only=True).unstack("arm")
    summary = pd.DataFrame({
        "latency_us_cold": wide["latency_us"]["cold"],
        "latency_us_warm": wide["latency_us"]["warm"],
        "speedup_warm": wide["latency_us"]["cold"] / wide["latency_us"]["warm"],
        "seconds_cold": wide["seconds"]["cold"], "seconds_warm": wide["seconds"]["warm"],
    }).reset_index()
    priors = sorted(p.name for p in prior.iterdir() if p.is_dir())
    write_results(
        Path(args.out) / key_dir, "warm-start", table,
        f"Cold start: {args.trials} trials, cold vs warm cost model",
        f"Medians of {args.repeats} run(s) per arm (seeds 0..{args.repeats - 1}, every run in "
        "warm-start.csv), each in a fresh process, one at a time. The warm model learned "
        f"from {len(priors)} prior log(s): {', '.join(priors)} (minus the workload's own).",
        [fenced(summary)])


if __name__ == "__main__":
    main()
