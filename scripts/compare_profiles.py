"""Where two or more model packages of one ONNX model differ, call by call.

Each package is profiled as ``scripts/bench_networks.py`` profiles a tuned build
(``autotune.model.profile.profile_tvm``: microseconds a network call spends in each
kernel and VM builtin); the table has one column per package, a row per part, and the
ratio of the first package's time to the second's:

    python scripts/compare_profiles.py model.onnx new=build/a old=build/b --out parts.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from bench_output import fail, named_folders, write_table

from autotune.errors import AutotuneError
from autotune.model import load_model_package, load_onnx
from autotune.model.profile import profile_tvm


def package_profile(model, folder: str) -> pd.Series:
    """Microseconds per network call in each part of the package in ``folder``."""
    pkg = load_model_package(folder)
    return profile_tvm(pkg.module, model, pkg.dev, pkg.tuned_symbols).set_index("part")["us"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the ONNX file the packages were built from")
    parser.add_argument("packages", nargs="+", metavar="NAME=DIR",
                        help="packages written by 'autotune model build' (at least two)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    named = named_folders(args.packages, "packages", least=2)
    try:
        model = load_onnx(args.model)
        table = pd.concat([package_profile(model, folder).rename(name)
                           for name, folder in named], axis=1).fillna(0.0)
    except (AutotuneError, OSError) as err:
        fail(str(err))
    first, second = table.columns[:2]
    table[f"{first}/{second}"] = table[first] / table[second]
    table = table.sort_values(first, ascending=False)
    table.loc["total"] = table[list(table.columns[:-1])].sum().tolist() + [
        table[first].sum() / table[second].sum()]
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))
    write_table(table, args.out, index=True, index_label="part")


if __name__ == "__main__":
    main()
