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
    """Ends the search after the batch during which ``seconds`` of wall time ran out."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = time.monotonic()
        self.expired = False

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        if time.monotonic() - self.started >= self.seconds:
            self.expired = True
            task_scheduler.terminate_task(task_id)
