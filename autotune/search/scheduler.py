"""MetaSchedule's gradient task scheduler, with a wall-clock deadline it can keep safely.

Terminating tasks from a measure callback races with the scheduler's own bookkeeping: a
task already chosen as alive can be terminated under it, and MetaSchedule aborts. Here the
deadline is checked where the next task is chosen: once it has passed (and every task had
its first batch), no task is chosen, and MetaSchedule joins the running batch and ends
every task itself. The choice of task is
that of TVM's ``GradientBased`` scheduler (round robin first, then the largest expected
latency gain, weighted), with one change for layout variants: tasks that compute the same
workload (a ``group``) count only through the fastest of them, so a variant's gain is
discounted by how far it is behind its group's best, ``(group best / its best) ** 4``
(1 for the leader; 0.41 for a variant 25% slower, 0.06 for one twice as slow). TVM's gain
grows with a task's latency, which would otherwise hand most of a workload's budget to its
slowest variant.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.task_scheduler import PyTaskScheduler


@derived_object
class GradientScheduler(PyTaskScheduler):
    """Gradient-based task choice; no new batch once ``seconds`` have passed (None: never)."""

    def __init__(self, progress: Callable[[int], tuple[int, float]], seconds: float | None = None,
                 alpha: float = 0.2, window: int = 3, seed: int | None = None,
                 charge: Callable[[int, float], None] | None = None,
                 stop: Callable[[], bool] | None = None,
                 groups: list[int] | None = None) -> None:
        """``progress(task_id)`` gives a task's measured trials so far and its best seconds
        (MetaSchedule's task records do not expose their latencies to Python).
        ``charge(task_id, seconds)`` is told the time of each batch (its search, build and
        measurement: from its task's choice to the next choice), before that batch's
        results are joined; first-round batches are joined only in the second round.
        Once ``stop()`` is true (Ctrl-C) no task is chosen, not even for a first batch.
        ``groups[task_id]``: the workload a task computes (variants share one; None: every
        task its own)."""
        super().__init__()
        self.progress = progress
        self.charge = charge
        self.stop = stop
        self.current: tuple[int, float] | None = None  # the task chosen last, and when
        self.seen: dict[int, int] = {}
        self.seconds = seconds
        self.alpha = alpha
        self.window = window
        self.rng = random.Random(seed)
        self.started = time.monotonic()
        self.rounds = 0
        self.history: dict[int, list[float]] = {}
        self.groups = groups

    def expired(self) -> bool:
        return self.seconds is not None and time.monotonic() - self.started >= self.seconds

    def next_task_id(self) -> int:
        now = time.monotonic()
        if self.current is not None and self.charge is not None:
            self.charge(self.current[0], now - self.current[1])
        task_id = self._choose()
        self.current = (task_id, now) if task_id != -1 else None
        if task_id != -1 and self._outer().tasks_[task_id].runner_futures is not None:
            # Its last batch is still being measured (remote devices): wait for it, as a
            # task is only given a new batch once its last one is joined.
            self._outer().join_running_task(task_id)
        return task_id

    def _choose(self) -> int:
        outer = self._outer()
        tasks = outer.tasks_
        count = len(tasks)
        if self.stop is not None and self.stop():
            for i in range(count):
                outer.touch_task(i)  # join what ran, so its records are committed
            return -1
        if self.rounds == 0:
            self.started = time.monotonic()  # the budget starts with the first batch
        if self.rounds < count:  # every task gets its first batch, whatever the budget
            self.rounds += 1
            return self.rounds - 1
        alive = []
        for i in range(count):
            outer.touch_task(i)  # joins a finished batch (a local runner's always is)
            trials, best = self.progress(i)
            if trials != self.seen.get(i) and math.isfinite(best):  # one entry per batch
                self.seen[i] = trials
                self.history.setdefault(i, []).append(best)
            if not tasks[i].is_terminated:
                alive.append(i)
        if not alive or self.expired():
            return -1  # MetaSchedule joins what is running and ends every task
        gains = [self._gain(i, float(tasks[i].task_weight)) for i in alive]
        if max(gains) == min(gains):
            return self.rng.choice(alive)
        return alive[gains.index(max(gains))]

    def _gain(self, task_id: int, weight: float) -> float:
        """TVM's gradient: recent improvement per round and best latency per round, blended."""
        best = self.history.get(task_id, [])
        n, w = len(best), self.window
        if n == 0:
            return -1e9
        g1 = (best[n - 1 - w] - best[-1]) / w if n >= 1 + w else 0.0
        g2 = best[-1] / n
        return (self.alpha * g1 + (1 - self.alpha) * g2) * weight * self._behind(task_id)

    def _behind(self, task_id: int) -> float:
        """``(group best / task best) ** 4``: 1 for the fastest task of its group."""
        if self.groups is None:
            return 1.0
        group = self.groups[task_id]
        bests = [h[-1] for i, h in self.history.items() if self.groups[i] == group and h]
        return (min(bests) / self.history[task_id][-1]) ** 4
