"""Several model packages of one ONNX model, timed side by side in one run.

Two tuning runs of a network (for example under two search settings) each end in a
package; timed in separate runs, their latencies differ by however the machine's load
moved in between. This times them in one ``autotune.model.compare_model`` run, beside TVM's
untuned build and ONNX Runtime, each called as a user calls it:

    python scripts/compare_packages.py model.onnx auto=build/a none=build/b --out t.csv

The first package is the ``tvm-tuned`` row; the others are rows named ``tvm-<name>``.
With ``--rounds R``, the packages and ONNX Runtime are then also timed in turns: R rounds,
each timing every one of them for ``--calls`` calls, so that a stretch of load on a shared
host falls on all of them alike; the table gives each one's median of its round medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from autotune.errors import AutotuneError
from autotune.hardware.target import resolve_target, target_threads
from autotune.hardware.threads import set_threads
from autotune.model import compare_model, load_model_package, load_onnx, onnxruntime_ref
from autotune.model.onnx_import import OnnxModel
from autotune.model.package import ModelPackage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the ONNX file the packages were built from")
    parser.add_argument("packages", nargs="+", metavar="NAME=DIR",
                        help="packages written by 'autotune model build'")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    parser.add_argument("--rounds", type=int, default=0,
                        help="then time them in turns, this many rounds (0: not)")
    parser.add_argument("--calls", type=int, default=25, help="timed calls a round")
    args = parser.parse_args()
    named = [p.partition("=") for p in args.packages]
    bad = [name for name, eq, folder in named if not (name and eq and folder)]
    if bad:
        fail(f"give each package as NAME=DIR, got {', '.join(bad)}")
    try:
        model = load_onnx(args.model)
        packages = {name: load_model_package(path) for name, _, path in named}
        (first, _, folder), *rest = named
        others = {f"tvm-{name}": packages[name].module for name, _, _ in rest}
        table = compare_model(model, "cpu", package=folder, others=others)
    except AutotuneError as err:
        fail(str(err))
    table.loc[table["implementation"] == "tvm-tuned", "implementation"] = f"tvm-{first}"
    table["command"] = "python " + " ".join(sys.argv)
    cols = ["implementation", "median_us", "min_us", "spread", "speedup_vs_onnxruntime",
            "rel_error", "matches_onnxruntime"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    if args.rounds > 0:
        turns = in_turns(model, packages, args.rounds, args.calls)
        turns["command"] = table["command"].iloc[0]
        print(turns.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        if args.out is not None:
            path = args.out.with_name(args.out.stem + "-turns.csv")
            turns.to_csv(path, index=False)
            print(f"wrote {path}")


def in_turns(model: OnnxModel, packages: dict[str, ModelPackage], rounds: int,
             calls: int) -> pd.DataFrame:
    """Each package and ONNX Runtime timed in turns: the median of each one's round medians,
    its lowest and highest round, and its speedup over ONNX Runtime."""
    threads = set_threads(target_threads(resolve_target("cpu")))
    inputs = model.random_inputs(0)
    session = onnxruntime_ref.session(model, threads)
    runs = {f"tvm-{name}": (lambda pkg=pkg: pkg(*inputs)) for name, pkg in packages.items()}
    runs["onnxruntime"] = lambda: onnxruntime_ref.run(session, model, inputs)
    medians: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            run()  # the first call after another build's: not timed
            seconds = []
            for _ in range(calls):
                started = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - started)
            medians[name].append(statistics.median(seconds))
    table = pd.DataFrame([{"implementation": name, "rounds": rounds, "calls_per_round": calls,
                           "median_us": statistics.median(m) * 1e6, "lowest_round_us": min(m) * 1e6,
                           "highest_round_us": max(m) * 1e6, "threads": threads}
                          for name, m in medians.items()])
    ort = table.set_index("implementation")["median_us"]["onnxruntime"]
    table["speedup_vs_onnxruntime"] = ort / table["median_us"]
    return table


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
