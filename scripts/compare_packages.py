"""Several model packages of one ONNX model, timed side by side in one run.

Two tuning runs of a network (for example under two search settings) each end in a
package; timed in separate runs, their latencies differ by however the machine's load
moved in between. This times them in one ``autotune.model.compare_model`` run, beside TVM's
untuned build and ONNX Runtime, each called as a user calls it:

    python scripts/compare_packages.py model.onnx auto=build/a none=build/b --out t.csv

The first package is the ``tvm-tuned`` row; the others are rows named ``tvm-<name>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autotune.errors import AutotuneError
from autotune.model import compare_model, load_model_package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the ONNX file the packages were built from")
    parser.add_argument("packages", nargs="+", metavar="NAME=DIR",
                        help="packages written by 'autotune model build'")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    named = [p.partition("=") for p in args.packages]
    bad = [name for name, eq, folder in named if not (name and eq and folder)]
    if bad:
        fail(f"give each package as NAME=DIR, got {', '.join(bad)}")
    try:
        (first, _, folder), *rest = named
        others = {f"tvm-{name}": load_model_package(path).module for name, _, path in rest}
        table = compare_model(args.model, "cpu", package=folder, others=others)
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


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
