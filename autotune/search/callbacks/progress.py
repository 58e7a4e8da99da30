"""Live tuning progress: a measure callback that drives a tqdm bar."""

from __future__ import annotations

import math

from tqdm.auto import tqdm
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from autotune.logs.store import run_seconds


@derived_object
class ProgressBar(PyMeasureCallback):
    """Shows trials done, elapsed and ETA, failed candidates and, for one workload, its best
    latency, GFLOP/s and speedup so far over a library's time (``reference``: its name and
    seconds). For several tasks (``groups[task]``: the workload each computes, variants
    sharing one; ``weights[task]``: its calls, a model's count) it shows instead the
    weighted sum of each workload's best so far (a network's kernel time) once every
    workload has one, and until then how many have."""

    def __init__(self, total: int | None, flops: float | None, label: str, disable: bool = False,
                 reference: tuple[str, float] | None = None, groups: list[int] | None = None,
                 weights: list[float] | None = None) -> None:
        super().__init__()
        self.flops = flops
        self.reference = reference
        self.groups = groups
        # each workload's weight (its variants' tasks carry the same one)
        self.weights = {} if groups is None else dict(zip(groups, weights or [1.0] * len(groups)))
        self.best = math.inf
        self.task_best: dict[int, float] = {}
        self.failed = 0
        self.bar = tqdm(total=total, desc=label, unit="trial", disable=disable, dynamic_ncols=True)

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        for built, ran in zip(builder_results, runner_results):
            seconds = None if built.error_msg or ran.error_msg else run_seconds(ran.run_secs)
            if seconds is None:
                self.failed += 1
                continue
            self.best = min(self.best, seconds)
            self.task_best[task_id] = min(self.task_best.get(task_id, math.inf), seconds)
        self.bar.update(len(runner_results))
        if self.groups is not None:
            self.bar.set_postfix(self.network() | {"failed": self.failed})
        elif math.isfinite(self.best):
            postfix = {"best": f"{self.best * 1e6:.1f}us"}
            if self.flops:  # one workload; the best of several tasks has no single rate
                postfix["gflops"] = f"{self.flops / self.best / 1e9:.2f}"
            if self.reference:
                name, seconds = self.reference
                postfix[f"vs_{name}"] = f"{seconds / self.best:.2f}x"
            self.bar.set_postfix(postfix | {"failed": self.failed})

    def network(self) -> dict[str, str]:
        """The several-task postfix: ``kernels`` (the weighted sum of every workload's best)
        or, while some workload has none yet, ``measured`` (workloads with one / all)."""
        bests: dict[int, float] = {}
        for task, seconds in self.task_best.items():
            group = self.groups[task]
            bests[group] = min(bests.get(group, math.inf), seconds)
        if len(bests) < len(self.weights):
            return {"measured": f"{len(bests)}/{len(self.weights)}"}
        total = sum(self.weights[group] * seconds for group, seconds in bests.items())
        return {"kernels": f"{total * 1e3:.3f}ms"}

    def close(self) -> None:
        self.bar.close()
