"""Search speed: raw MetaSchedule ``tune_tir`` vs ``autotune.tune``, same workloads and trials.

Each (arm, workload) runs in a fresh Python process, so both pay the same start-up, and one
at a time, so nothing else shares the cores. Both arms log every candidate with the same
event callback; the final kernel of each is picked, validated against NumPy and timed by
the same code (``autotune.search.tune.summarize``). With ``--repeats R`` each arm runs R times
(seeds 0..R-1, the runs interleaved) and the summary takes medians: one search of 64
trials is a noisy sample of its final kernel. Arms: ``raw`` (``tune_tir`` as shipped),
``raw120`` (the same with its builder's 30 s time-out raised to 120 s, for hosts where the
builder's start-up alone exceeds 30 s), ``autotune``, and ``autotune_evo`` (autotune with
MetaSchedule's evolutionary search unchanged while the cost model is cold, to measure what
``ColdStartSearch`` changes). Every other arm is compared with ``autotune``. Writes
``NAME.csv``/``.md`` (``--name``, default ``search-speed``):

    python scripts/bench_search.py [--trials 64] [--repeats 1] [--arms raw,autotune]
                                   [--name search-speed] [--out results] [WORKLOAD_KEY ...]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from bench_output import fenced, write_results
from fresh_process import add_one_option, run_fresh, serve_one

ARMS = ("raw", "raw120", "autotune", "autotune_evo")

DEFAULT_WORKLOADS = [
    "conv2d-n1-c37-h61-w61-k53-kh3-kw3-s2x2-p1x1-d1x1-g1-float32",  # the NOTES' shape
    "conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32",  # the demo's shape
    "gemm-m127-n255-k129-float32",
]


def run_one(arm: str, key: str, trials: int, work: Path, seed: int) -> dict:
    """Tune ``key`` with one arm in this process; return its numbers."""
    from tvm.s_tir import meta_schedule as ms

    import autotune
    from autotune.hardware.target import resolve_target
    from autotune.hardware.threads import set_threads
    from autotune.logs.events import EventLog, read_events
    from autotune.logs.store import LogEntry, LogStore
    from autotune.search.tune import summarize

    wl, tgt = autotune.Workload.from_key(key), resolve_target("cpu")
    set_threads(int(tgt.attrs["num-cores"]))
    started = time.perf_counter()
    if arm.startswith("raw"):
        path = work / f"{arm}-{seed}" / key
        path.mkdir(parents=True)
        events = EventLog(path, key, trials)
        builder = ms.builder.LocalBuilder(timeout_sec=120) if arm == "raw120" else "local"
        ms.tune_tir(wl.module(), tgt, str(path), max_trials_global=trials,
                    num_trials_per_iter=64, seed=seed, builder=builder,
                    measure_callbacks=[*ms.MeasureCallback.create("default"), events])
        events.close()
        entry = LogEntry(path, wl, tgt)
    else:
        # "autotune_evo": MetaSchedule's strategy, evolving by random scores too. Both arms
        # search from nothing: the workloads before this one in the same log directory are
        # not carried over (``bench_cold_start.py --arms transfer`` measures that).
        strategy = "evolutionary" if arm == "autotune_evo" else "autotune"
        autotune.tune(wl, tgt, trials=trials, log_dir=work / f"{arm}-{seed}", progress=False,
                      search=autotune.SearchOptions(seed=seed, transfer=False, strategy=strategy))
        entry = LogStore(work / f"{arm}-{seed}").open(wl, tgt)
    seconds = time.perf_counter() - started
    trial_events = [e for e in read_events(entry.path) if e.get("event") == "trial"]
    errors = [e["error"] for e in trial_events if e.get("error")]
    result = summarize(entry)
    return {
        "workload": key, "arm": arm, "seed": seed, "trials": len(trial_events), "seconds": seconds,
        "trials_per_min": len(trial_events) / seconds * 60,
        "failed": len(errors), "timeouts": sum("timeout" in e.lower() for e in errors),
        "validated": result.validated,
        "latency_us": result.latency_s * 1e6 if result.latency_s else None,
        "gflops": result.gflops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT_WORKLOADS)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--arms", default="raw,autotune",
                        help=f"comma-separated, from {', '.join(ARMS)}; autotune among them")
    parser.add_argument("--name", default="search-speed", help="output file name, no suffix")
    parser.add_argument("--out", default="results")
    add_one_option(parser)
    args = parser.parse_args()
    if serve_one(args, run_one):
        return

    import pandas as pd

    from autotune.hardware.target import resolve_target, target_key

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as work:
        arms = args.arms.split(",")
        if set(arms) - set(ARMS) or "autotune" not in arms or len(arms) < 2:
            parser.error(f"--arms: autotune and one or more of {', '.join(ARMS)}")
        for key, seed, arm in itertools.product(args.workloads, range(args.repeats), arms):
            print(f"{arm:>8}  {key}  seed {seed}  {args.trials} trials ...", flush=True)
            row = run_fresh(__file__, args.trials, arm, key, work, seed)
            print(f"          {row['trials_per_min']:.1f} trials/min, {row['failed']} failed "
                  f"({row['timeouts']} timeouts), best {row['latency_us'] or float('nan'):.1f} us", flush=True)
            rows.append(row)
    table = pd.DataFrame(rows)
    wide = table.groupby(["workload", "arm"]).median(numeric_only=True).unstack("arm")
    summary = wide.index.to_frame(index=False)
    ours = wide["trials_per_min"]["autotune"].to_numpy()
    for raw in (a for a in arms if a != "autotune"):
        summary[f"throughput_vs_{raw}"] = ours / wide["trials_per_min"][raw].to_numpy()
        summary[f"final_kernel_vs_{raw}"] = (wide["latency_us"][raw]
                                             / wide["latency_us"]["autotune"]).to_numpy()
    for column in ("trials_per_min", "latency_us", "timeouts", "failed"):
        for arm in arms:
            summary[f"{column}_{arm}"] = wide[column][arm].to_numpy()
    write_results(
        Path(args.out) / target_key(resolve_target("cpu")), args.name, table,
        f"Search speed: {' vs '.join(arms)}",
        f"{args.trials} trials per workload and arm, each in a fresh process, one at a time; "
        f"medians of {args.repeats} run(s) per arm (seeds 0..{args.repeats - 1}; every run in "
        f"{args.name}.csv). final_kernel_vs_X: X's final kernel latency over autotune's "
        "(above 1: autotune's is faster).",
        [fenced(summary)])


if __name__ == "__main__":
    main()
