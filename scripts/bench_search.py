"""Search speed: raw MetaSchedule ``tune_tir`` vs ``autotune.tune``, same workloads and trials.

Each (arm, workload) runs in a fresh Python process, so both pay the same start-up, and one
at a time, so nothing else shares the cores. Both arms log every candidate with the same
event callback; the final kernel of each is picked, validated against NumPy and timed by
the same code (``autotune.tuning.summarize``). With ``--repeats R`` each arm runs R times
(seeds 0..R-1, the runs interleaved) and the summary takes medians: one search of 64
trials is a noisy sample of its final kernel. Writes ``search-speed.csv`` and ``.md``:

    python scripts/bench_search.py [--trials 64] [--repeats 1] [--out results] [WORKLOAD_KEY ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

from fresh_process import add_one_option, run_fresh, serve_one

DEFAULT_WORKLOADS = [
    "conv2d-n1-c37-h61-w61-k53-kh3-kw3-s2x2-p1x1-d1x1-g1-float32",  # the NOTES' shape
    "conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32",  # the demo's shape
    "gemm-m127-n255-k129-float32",
]


def run_one(arm: str, key: str, trials: int, work: Path, seed: int) -> dict:
    """Tune ``key`` with one arm in this process; return its numbers."""
    from tvm.s_tir import meta_schedule as ms

    import autotune
    from autotune.events import EventLog, read_events
    from autotune.logs import LogEntry, LogStore
    from autotune.target import resolve_target
    from autotune.threads import set_threads
    from autotune.tuning import summarize

    wl, tgt = autotune.Workload.from_key(key), resolve_target("cpu")
    set_threads(int(tgt.attrs["num-cores"]))
    started = time.perf_counter()
    if arm == "raw":
        path = work / f"raw-{seed}" / key
        path.mkdir(parents=True)
        events = EventLog(path, key, trials)
        ms.tune_tir(wl.module(), tgt, str(path), max_trials_global=trials,
                    num_trials_per_iter=64, seed=seed,
                    measure_callbacks=[*ms.MeasureCallback.create("default"), events])
        events.close()
        entry = LogEntry(path, wl, tgt)
    else:
        autotune.tune(wl, tgt, trials=trials, log_dir=work / f"ours-{seed}", progress=False,
                      seed=seed)
        entry = LogStore(work / f"ours-{seed}").open(wl, tgt)
    seconds = time.perf_counter() - started
    trial_events = [e for e in read_events(entry.path) if e.get("event") == "trial"]
    errors = [e["error"] for e in trial_events if e.get("error")]
    result = summarize(entry)
    return {
        "workload": key, "arm": arm, "seed": seed, "trials": len(trial_events), "seconds": seconds,
        "trials_per_min": len(trial_events) / seconds * 60,
        "failed": len(errors), "timeouts": sum("Timeout" in e for e in errors),
        "validated": result.validated,
        "latency_us": result.latency_s * 1e6 if result.latency_s else None,
        "gflops": result.gflops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT_WORKLOADS)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default="results")
    add_one_option(parser)
    args = parser.parse_args()
    if serve_one(args, run_one):
        return

    import pandas as pd

    from autotune.bench import host_description
    from autotune.target import resolve_target, target_key

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-search-") as work:
        for key, seed, arm in itertools.product(args.workloads, range(args.repeats),
                                                ("raw", "autotune")):
            print(f"{arm:>8}  {key}  seed {seed}  {args.trials} trials ...", flush=True)
            row = run_fresh(__file__, args.trials, arm, key, work, seed)
            print(f"          {row['trials_per_min']:.1f} trials/min, {row['failed']} failed "
                  f"({row['timeouts']} timeouts), best {row['latency_us'] or float('nan'):.1f} us", flush=True)
            rows.append(row)
    table = pd.DataFrame(rows)
    wide = table.groupby(["workload", "arm"]).median(numeric_only=True).unstack("arm")
    summary = pd.DataFrame({
        "trials_per_min_raw": wide["trials_per_min"]["raw"],
        "trials_per_min_autotune": wide["trials_per_min"]["autotune"],
        "throughput_ratio": wide["trials_per_min"]["autotune"] / wide["trials_per_min"]["raw"],
        "latency_us_raw": wide["latency_us"]["raw"],
        "latency_us_autotune": wide["latency_us"]["autotune"],
        "speedup_of_final_kernel": wide["latency_us"]["raw"] / wide["latency_us"]["autotune"],
        "timeouts_raw": wide["timeouts"]["raw"], "timeouts_autotune": wide["timeouts"]["autotune"],
        "failed_raw": wide["failed"]["raw"], "failed_autotune": wide["failed"]["autotune"],
    }).reset_index()
    out = Path(args.out) / target_key(resolve_target("cpu"))
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "search-speed.csv", index=False)
    text = [
        "# Search speed: raw tune_tir vs autotune",
        "",
        f"Host: {host_description()}. Command: `python scripts/bench_search.py "
        f"{' '.join(sys.argv[1:])}`. {args.trials} trials per workload and arm, each in a "
        f"fresh process, one at a time; medians of {args.repeats} run(s) per arm (seeds "
        f"0..{args.repeats - 1}; every run in search-speed.csv).",
        "",
        "```",
        summary.to_string(index=False, float_format=lambda v: f"{v:.3g}"),
        "```",
        "",
    ]
    (out / "search-speed.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
