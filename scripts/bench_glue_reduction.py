"""The glue's reductions: a global average pool under TVM's dlight CPU rule and under
``VectorRowReduction``, timed by the measurement protocol.

Each shape is one Relax ``mean`` over the H x W of an NCHW tensor (a squeeze-and-excitation
block's pool, at EfficientNet-B0's sizes), fused and scheduled as ``schedule_glue`` does,
once with dlight's ``Reduction`` rule alone and once with ``VectorRowReduction`` before it;
both are checked against NumPy, then timed on the target's threads. Writes
``glue-reduction.csv``/``.md`` under ``<out>/<target key>/``:

    python scripts/bench_glue_reduction.py [--out results]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from bench_output import fenced, write_results

SHAPES = [(1, 32, 112, 112), (1, 96, 56, 56), (1, 144, 56, 56), (1, 240, 28, 28),
          (1, 672, 14, 14), (1, 1152, 7, 7)]


def mean_module(shape):
    from tvm import relax  # noqa: PLC0415

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(shape, "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(relax.op.mean(x, axis=[2, 3], keepdims=True))
        bb.emit_func_output(out)
    mod = relax.transform.LegalizeOps()(bb.get())
    return relax.transform.FuseTIR()(relax.transform.FuseOps()(
        relax.transform.AnnotateTIROpPattern()(mod)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default="results", type=Path)
    args = parser.parse_args()
    import tvm  # noqa: PLC0415
    from tvm import relax  # noqa: PLC0415
    from tvm.s_tir.dlight.base import ApplyDefaultSchedule  # noqa: PLC0415
    from tvm.s_tir.dlight.cpu import Reduction  # noqa: PLC0415

    from autotune.hardware.target import resolve_target, target_key, target_threads  # noqa: PLC0415
    from autotune.hardware.threads import set_threads  # noqa: PLC0415
    from autotune.measure.protocol import Prepared, Protocol, measure  # noqa: PLC0415
    from autotune.model.glue import VectorRowReduction  # noqa: PLC0415

    target = resolve_target("cpu")
    set_threads(target_threads(target))
    protocol = Protocol()
    rules = {"dlight": (Reduction(),), "vector rows": (VectorRowReduction(), Reduction())}
    rows = []
    for shape in SHAPES:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
        for name, chosen in rules.items():
            with target:
                mod = ApplyDefaultSchedule(*chosen)(mean_module(shape))
            vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
            func, arg = vm["main"], tvm.runtime.tensor(x)
            np.testing.assert_allclose(func(arg).numpy(), want, rtol=1e-5, atol=1e-6)
            timing = measure(Prepared([lambda: func(arg)], lambda i: None), protocol)
            rows.append({"shape": "x".join(map(str, shape[1:])), "rule": name,
                         "median_us": timing.median * 1e6, "spread": timing.spread})
    runs = pd.DataFrame(rows)
    table = runs.pivot(index="shape", columns="rule", values="median_us")
    table = table.loc[["x".join(map(str, s[1:])) for s in SHAPES]]
    table["speedup"] = table["dlight"] / table["vector rows"]
    write_results(args.out / target_key(target), "glue-reduction", runs,
                  "The glue's global average pool: dlight's CPU rule against vector rows",
                  "One Relax mean over H x W each, us per call (the VM call included).",
                  [fenced(table, index=True)])


if __name__ == "__main__":
    main()
