"""Wall-clock budgets: ``8h``, ``45m``, ``1h30m``, ``90s``, and the callback that keeps one."""

from __future__ import annotations

import re
import time

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from .errors import AutotuneError

_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text`` (``8h``, ``45m``, ``1h30m``, ``90s``, or a plain number of seconds)."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        spec = text.strip().lower().replace(" ", "")
        try:
            seconds = float(spec)
        except ValueError:
            parts = _PART.findall(spec)
            if not parts or "".join(n + u for n, u in parts) != spec:
                raise AutotuneError(
                    f"time budget {text!r} is not a duration: write e.g. 8h, 45m, 1h30m or 90s"
                ) from None
            seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    if seconds <= 0:
        raise AutotuneError(f"time budget must be positive, got {text!r}")
    return seconds


@derived_object
class Deadline(PyMeasureCallback):
    """Ends the search (all ``tasks`` of it) after the batch in which ``seconds`` ran out.

    MetaSchedule's task scheduler joins the last batch after its trial budget is spent and
    then terminates every task itself; terminating one from a callback at that point would
    trip its checks. So once ``max_trials`` candidates were measured, this does nothing.
    """

    def __init__(self, seconds: float, tasks: int = 1, max_trials: int = 1 << 30) -> None:
        super().__init__()
        self.seconds = seconds
        self.tasks = tasks
        self.max_trials = max_trials
        self.measured = 0
        self.started = time.monotonic()

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        self.measured += len(runner_results)
        if self.measured >= self.max_trials or time.monotonic() - self.started < self.seconds:
            return
        for task in range(self.tasks):  # a budget shared by every task ends them all
            try:
                task_scheduler.terminate_task(task)
            except Exception:  # that task had already finished
                pass
