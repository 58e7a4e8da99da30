"""Time a workload's tuned kernel, TVM's untuned kernel and the NumPy baseline side by side."""

from __future__ import annotations

import pandas as pd
import tvm

from .baselines.numpy_cpu import numpy_kernel
from .build import check_numerics, compile_module, scheduled_module
from .measure import Timing, time_callable, time_module
from .target import device_for
from .workload import Workload


def compare(workload: Workload, target: tvm.target.Target, tuned: tvm.IRModule | None) -> pd.DataFrame:
    """One row per implementation: median/min latency, GFLOP/s, speedup over NumPy."""
    dev = device_for(target)
    inputs = workload.make_inputs()
    args = [tvm.runtime.tensor(x, dev) for x in inputs]
    args.append(tvm.runtime.empty(workload.output_spec.shape, workload.output_spec.dtype, dev))
    rows: list[tuple[str, Timing, bool]] = []
    candidates = [("tvm-tuned", tuned), ("tvm-untuned", scheduled_module(workload, None))]
    for name, mod in candidates:
        if mod is None:
            continue
        rt_mod = compile_module(mod, target)
        ok = check_numerics(rt_mod, workload, target) is None
        rows.append((name, time_module(rt_mod, args, dev), ok))
    fn = numpy_kernel(workload)
    ok = workload.check(fn(*inputs), inputs) is None
    rows.append(("numpy", time_callable(fn, inputs), ok))
    numpy_s = rows[-1][1].median
    return pd.DataFrame(
        [
            {
                "implementation": name,
                "median_us": t.median * 1e6,
                "min_us": t.min * 1e6,
                "gflops": workload.flops / t.median / 1e9,
                "speedup_vs_numpy": numpy_s / t.median,
                "correct": ok,
            }
            for name, t, ok in rows
        ]
    )
