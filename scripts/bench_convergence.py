"""Convergence: how close the best kernel after the first EARLY trials gets to the best after TRIALS.

Tops each workload's log up to TRIALS trials, then takes the best validated record among
the log's first EARLY records and among all of them (records are stored in trial order),
times both with the one measurement protocol in this run, and plots each log's best
GFLOP/s against trials relative to its final best. The TRIALS logs are tuned with a cold
cost model (MetaSchedule's default). With ``--warm``, each workload is also tuned for EARLY
trials afresh with the cost model warmed up on the other workloads' logs (never its own),
and that kernel is timed in the same run. Writes convergence.csv/.md/.png:

    python scripts/bench_convergence.py [--trials 1000] [--early 64] [--warm] [--out results] [KEY ...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench_output import fenced, write_results

DEFAULT_WORKLOADS = [
    "conv2d-n1-c37-h61-w61-k53-kh3-kw3-s2x2-p1x1-d1x1-g1-float32",
    "conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32",
]


def first_records(entry, count: int, scratch: Path):
    """A copy of ``entry``'s log holding only its first ``count`` records."""
    from autotune.logs.repair import RECORDS, WORKLOADS
    from autotune.logs.store import LogEntry

    scratch.mkdir(parents=True)
    shutil.copy(entry.path / WORKLOADS, scratch / WORKLOADS)
    lines = (entry.path / RECORDS).read_text().splitlines(keepends=True)[:count]
    (scratch / RECORDS).write_text("".join(lines))
    return LogEntry(scratch, entry.workload, entry.target)


def warm_entry(wl, tgt, store, keys: list[str], trials: int, scratch: Path):
    """``wl`` tuned for ``trials`` into ``scratch``, warm-started on the other keys' logs."""
    import autotune
    from autotune.logs.store import LogStore

    for other in keys:
        if other != wl.key:
            source = store.path(autotune.Workload.from_key(other), tgt)
            shutil.copytree(source, scratch / source.parent.name / other,
                            ignore=shutil.ignore_patterns(".lock"))
    autotune.tune(wl, tgt, trials=trials, log_dir=scratch, progress=False,
                  search=autotune.SearchOptions(warm_start=True, transfer=False))  # the model alone
    return LogStore(scratch).open(wl, tgt)


def timed_best(entry) -> float:
    """Median seconds of the log's best validated kernel, by the one protocol."""
    from autotune.hardware.target import device_for
    from autotune.measure.compile import compile_module, prepare_module
    from autotune.measure.protocol import Protocol, input_sets, measure
    from autotune.measure.validate import best_validated

    choice = best_validated(entry)
    wl, protocol = entry.workload, Protocol()
    prepared = prepare_module(compile_module(choice.module, entry.target), wl,
                              input_sets(wl, protocol.sets_for(wl)), device_for(entry.target))
    return measure(prepared, protocol).median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=DEFAULT_WORKLOADS)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--early", type=int, default=64)
    parser.add_argument("--warm", action="store_true",
                        help="Also tune EARLY trials with a cost model warmed up on the others.")
    parser.add_argument("--out", default="results")
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    import autotune
    from autotune.hardware.target import resolve_target, target_key
    from autotune.hardware.threads import set_threads
    from autotune.logs.events import trials_done, tuning_curve
    from autotune.logs.store import LogStore

    tgt = resolve_target("cpu")
    set_threads(int(tgt.attrs["num-cores"]))
    store = LogStore(Path(args.out) / "logs")
    rows, fig = [], plt.figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    with tempfile.TemporaryDirectory(prefix="convergence-") as scratch:
        for key in args.workloads:
            wl = autotune.Workload.from_key(key)
            done = trials_done(store.path(wl, tgt)) if store.path(wl, tgt).exists() else 0
            if done < args.trials:
                print(f"tuning {key}: {done} -> {args.trials} trials", flush=True)
                autotune.tune(wl, tgt, trials=args.trials - done, log_dir=store.root,
                              progress=False, search=autotune.SearchOptions(transfer=False))
            entry = store.open(wl, tgt)
            early_s = timed_best(first_records(entry, args.early, Path(scratch) / key))
            final_s = timed_best(entry)
            row = {"workload": key, "early_trials": args.early,
                   "trials": trials_done(entry.path), "early_us": early_s * 1e6,
                   "final_us": final_s * 1e6, "early_fraction": final_s / early_s}
            if args.warm:
                warm = warm_entry(wl, tgt, store, args.workloads, args.early,
                                  Path(scratch) / f"warm-{key}")
                warm_s = timed_best(warm)
                row.update(warm_us=warm_s * 1e6, warm_fraction=final_s / warm_s)
                warm_curve = tuning_curve(warm.path, wl.flops)
            rows.append(row)
            print(f"{key}: {args.early} trials {early_s * 1e6:.1f} us, "
                  f"{rows[-1]['trials']} trials {final_s * 1e6:.1f} us "
                  f"({rows[-1]['early_fraction']:.0%})", flush=True)
            curve = tuning_curve(entry.path, wl.flops)
            line, = ax.plot(curve["trial"], curve["best_gflops"] / curve["best_gflops"].max(),
                            label=wl.key.split("-float")[0])
            if args.warm:
                ax.plot(warm_curve["trial"],
                        warm_curve["best_gflops"] / curve["best_gflops"].max(),
                        color=line.get_color(), linestyle="--", label="  same, warm cost model")
    ax.axvline(args.early, color="grey", linestyle=":")
    ax.axhline(0.9, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("trials")
    ax.set_ylabel("best so far / final best (MetaSchedule's measurements)")
    ax.set_title(f"Convergence on {target_key(tgt)}")
    ax.legend(fontsize=6)
    fig.tight_layout()

    table = pd.DataFrame(rows)
    out = Path(args.out) / target_key(tgt)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "convergence.png", dpi=120)
    write_results(
        out, "convergence", table, f"Convergence: {args.early} vs {args.trials} trials",
        f"early_fraction = final latency / latency of the best validated kernel among the "
        f"first {args.early} trials, both timed in this run."
        + (f" warm_fraction: the same for a fresh {args.early}-trial search whose cost model "
           "first learned from the other workloads' logs." if args.warm else ""),
        [fenced(table), "![convergence](convergence.png)", ""])


if __name__ == "__main__":
    main()
