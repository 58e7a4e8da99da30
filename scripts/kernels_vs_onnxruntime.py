"""Each tuned kernel of a model package beside the ONNX Runtime node that does its work.

The package is profiled as ``scripts/bench_networks.py`` profiles a tuned build (the VM's
calls, timed one by one), ONNX Runtime by its own profiler (its optimized graph's nodes:
a conv with its fused activation and residual add is one node, channel-blocked where its
NCHWc transformer chose so), in turns, ``--rounds`` times; each number is the median over
the rounds. ONNX Runtime's nodes are matched to workloads by shape. Both profilers add
their own cost to every call (ONNX Runtime's far more), so each round also times both
sides untraced and scales each side's rows to sum to that (``(total)``; the sums before,
``(profiled total)``): the rows say, approximately, where one is ahead of the other
in-graph, with its neighbours' layouts and caches. ``tuning_us`` is each kernel's latency
as its search measured it, ``in_graph_vs_tuning`` its time per call in the network over
that:

    python scripts/kernels_vs_onnxruntime.py model.onnx build/model --out kernels.csv
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_output import fail, write_table

from autotune.errors import AutotuneError
from autotune.hardware.target import resolve_target, target_threads
from autotune.hardware.threads import set_threads
from autotune.model import load_onnx, map_workloads
from autotune.model.compare import package_built_from
from autotune.model.profile import with_tuning_latency, workloads_in_turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the ONNX file the package was built from")
    parser.add_argument("package", help="a package written by 'autotune model build'")
    parser.add_argument("--rounds", type=int, default=5, help="turns of each (default 5)")
    parser.add_argument("--runs", type=int, default=20, help="model calls a turn (default 20)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()
    if args.rounds < 1 or args.runs < 1:
        fail("--rounds and --runs must be at least 1")
    try:
        model = load_onnx(args.model)
        pkg = package_built_from(args.package, model)
    except (AutotuneError, OSError) as err:
        fail(str(err))
    threads = target_threads(resolve_target("cpu"))
    set_threads(threads)
    with tempfile.TemporaryDirectory() as workdir:
        table = workloads_in_turns(pkg.module, model, pkg.dev, pkg.tuned_symbols,
                                   map_workloads(model.relax_module()).workloads, threads,
                                   workdir, args.rounds, args.runs)
    table = with_tuning_latency(table, pkg.tuning_seconds)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    write_table(table, args.out)


if __name__ == "__main__":
    main()
