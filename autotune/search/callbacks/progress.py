"""Live tuning progress: a measure callback that drives a tqdm bar."""

from __future__ import annotations

import math

from tqdm.auto import tqdm
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from autotune.logs.store import run_seconds


@derived_object
class ProgressBar(PyMeasureCallback):
    """Shows trials done, elapsed and ETA, best latency, GFLOP/s and speedup so far over a
    library's time (``reference``: its name and seconds), and failed candidates."""

    def __init__(self, total: int | None, flops: float | None, label: str, disable: bool = False,
                 reference: tuple[str, float] | None = None) -> None:
        super().__init__()
        self.flops = flops
        self.reference = reference
        self.best = math.inf
        self.failed = 0
        self.bar = tqdm(total=total, desc=label, unit="trial", disable=disable, dynamic_ncols=True)

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        for built, ran in zip(builder_results, runner_results):
            seconds = None if built.error_msg or ran.error_msg else run_seconds(ran.run_secs)
            if seconds is None:
                self.failed += 1
                continue
            self.best = min(self.best, seconds)
        self.bar.update(len(runner_results))
        if math.isfinite(self.best):
            postfix = {"best": f"{self.best * 1e6:.1f}us"}
            if self.flops:  # one workload; the best of several tasks has no single rate
                postfix["gflops"] = f"{self.flops / self.best / 1e9:.2f}"
            if self.reference:
                name, seconds = self.reference
                postfix[f"vs_{name}"] = f"{seconds / self.best:.2f}x"
            self.bar.set_postfix(postfix | {"failed": self.failed})

    def close(self) -> None:
        self.bar.close()
