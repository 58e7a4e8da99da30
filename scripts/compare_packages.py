"""Several model packages of one ONNX model, timed side by side in one run.

Two tuning runs of a network (for example under two search settings) each end in a
package; timed in separate runs, their latencies differ by however the machine's load
moved in between. This times them in one ``autotune.model.compare_model`` run, beside TVM's
untuned build and ONNX Runtime, each called as a user calls it, in turns (``--rounds``
rounds of the protocol's samples, each round timing every build), so that a stretch of
load on a shared host falls on all of them alike:

    python scripts/compare_packages.py model.onnx auto=build/a none=build/b --out t.csv

The first package is the ``tvm-tuned`` row; the others are rows named ``tvm-<name>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_output import fail, named_folders, write_table

from autotune.errors import AutotuneError
from autotune.measure.protocol import Protocol
from autotune.model import compare_model, load_model_package, load_onnx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the ONNX file the packages were built from")
    parser.add_argument("packages", nargs="+", metavar="NAME=DIR",
                        help="packages written by 'autotune model build'")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    parser.add_argument("--rounds", type=int, default=Protocol.rounds,
                        help="rounds of turns the samples are taken in (1: one build after "
                             "the other)")
    args = parser.parse_args()
    named = named_folders(args.packages, "packages")
    if args.rounds < 1:
        fail(f"--rounds must be at least 1, got {args.rounds}")
    try:
        model = load_onnx(args.model)
        (first, folder), *rest = named
        others = {f"tvm-{name}": load_model_package(path).module for name, path in rest}
        table = compare_model(model, "cpu", package=folder, others=others,
                              protocol=Protocol(rounds=args.rounds))
    except AutotuneError as err:
        fail(str(err))
    table.loc[table["implementation"] == "tvm-tuned", "implementation"] = f"tvm-{first}"
    table["rounds"] = args.rounds
    table["command"] = "python " + " ".join(sys.argv)
    cols = ["implementation", "median_us", "min_us", "spread", "speedup_vs_onnxruntime",
            "rel_error", "matches_onnxruntime"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    write_table(table, args.out)


if __name__ == "__main__":
    main()
