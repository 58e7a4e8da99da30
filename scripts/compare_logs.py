"""The kernels several log directories hold for one suite, timed in turns in one run.

Two tunings of a suite (for example before and after a change to the search) each leave a
log directory; timed by two runs of ``bench``, their kernels differ by however the shared
host's load moved in between (docs/benchmarks.md). Here, for each workload, the kernel
that serves it from each directory (``best_variant``) is called as a package's user calls
it, on the same input sets, in ``--rounds`` rounds, each timing every directory's kernel
with the measurement protocol; the table gives each one's median of its round medians and
``vs_first``, the first directory's median over its own (below 1: slower than the first):

    python scripts/compare_logs.py gemm-odd new=/tmp/a/logs old=/tmp/b/logs --out t.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from functools import partial
from pathlib import Path

import pandas as pd
from bench_output import named_folders, write_table

from autotune.errors import AutotuneError
from autotune.hardware.target import resolve_target, target_key, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.store import LogStore
from autotune.measure.compile import compile_module, prepare_call, protocol_for
from autotune.measure.device import time_in_turns
from autotune.measure.protocol import input_sets, measure
from autotune.measure.validate import best_variant
from autotune.workload.suite import load_suite


def compare(suite_name: str, dirs: dict[str, Path], target_spec: str, rounds: int,
            repeat: int) -> pd.DataFrame:
    tgt = resolve_target(target_spec)
    set_threads(target_threads(tgt))
    protocol = protocol_for(tgt)
    timed = dataclasses.replace(protocol, repeat=repeat)
    rows = []
    for wl in load_suite(suite_name).workloads:
        sets = input_sets(wl, protocol.sets_for(wl))
        arms = {}
        for name, root in dirs.items():
            found = best_variant(LogStore(root), wl, tgt)
            if found is None:
                print(f"{wl.key}: no validated kernel under {root}", file=sys.stderr)
                continue
            variant, choice = found
            prepared = prepare_call(compile_module(choice.module, tgt), variant, sets, tgt)
            arms[name] = (variant.key, partial(measure, prepared, timed))
        medians = time_in_turns([timer for _, timer in arms.values()], rounds)
        first = None
        for (name, (variant, _)), median in zip(arms.items(), medians):
            median_us = median * 1e6
            first = first or median_us
            rows.append({"workload": wl.key, "logs": name, "variant": variant,
                         "median_us": median_us, "vs_first": first / median_us,
                         "rounds": rounds, "target": target_key(tgt)})
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="a shipped suite's name or a TOML file")
    parser.add_argument("logs", nargs="+", metavar="NAME=DIR", help="log directories")
    parser.add_argument("--target", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="samples per round")
    parser.add_argument("--out", type=Path, help="CSV file to write")
    args = parser.parse_args()
    dirs = dict(named_folders(args.logs, "log directories"))
    try:
        table = compare(args.suite, {k: Path(v) for k, v in dirs.items()}, args.target,
                        args.rounds, args.repeat)
    except AutotuneError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    write_table(table, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
