"""Hands each task's measurements to that task's own callback (e.g. its event log)."""

from __future__ import annotations

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback


@derived_object
class PerTask(PyMeasureCallback):
    """Calls ``callbacks[task_id]`` with the measurements of task ``task_id``."""

    def __init__(self, callbacks: list[PyMeasureCallback]) -> None:
        super().__init__()
        self.callbacks = callbacks

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        self.callbacks[task_id].apply(task_scheduler, task_id, measure_candidates,
                                      builder_results, runner_results)
