"""The built-in default job: tune an unusual conv, compare, export, reload."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from autotune.baselines import baselines_for
from autotune.deploy.export import export
from autotune.deploy.package import load_package
from autotune.hardware.target import resolve_target
from autotune.logs.store import LogStore
from autotune.measure.compare import add_rates, compare_workload
from autotune.measure.protocol import Protocol
from autotune.search.tune import TuneResult, tune
from autotune.workload import Workload

# Odd channel counts, a non-square 5x3 kernel, anisotropic stride/padding/dilation.
DEMO_WORKLOAD = Workload(
    "conv2d", n=1, c=19, h=43, w=29, k=31, kh=5, kw=3,
    stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=1, dtype="float32",
)


def run_demo(
    trials: int = 128, log_dir: str | Path = "results/logs", out: str | Path = "build/demo-pkg",
    progress: bool = True,
) -> tuple[TuneResult, pd.DataFrame, Path]:
    """Tune the demo workload on the host CPU, compare it, and export + reload a package."""
    wl, target = DEMO_WORKLOAD, resolve_target("cpu")
    result = tune(wl, target, trials=trials, log_dir=log_dir, progress=progress)
    competing = [b for b in baselines_for("cpu") if not b.unavailable()]
    rows = compare_workload(wl, LogStore(log_dir), target, competing, Protocol())
    table = add_rates(pd.DataFrame(rows), [b.name for b in competing])[
        ["implementation", "median_us", "kernel_us", "spread", "gflops", "correct"]
        + [f"speedup_vs_{b.name}" for b in competing]
    ]
    pkg_dir = export([wl], target, log_dir, out)
    pkg = load_package(pkg_dir)
    inputs = wl.make_inputs(seed=7)
    error = wl.check(pkg[wl.key](*inputs), inputs)
    if error:
        raise AssertionError(f"exported package disagrees with NumPy: {error}")
    return result, table, pkg_dir
