"""How a search runs: one value that every tuning entry point passes down unchanged.

The budget (trials, time) and where the logs go stay arguments of ``tune``, ``tune_many``,
``bench`` and ``tune_model``; everything else about the search is a field here, so a new
setting is one field (and one CLI option), not an edit of every function on the way down.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import AutotuneError


@dataclass(frozen=True)
class SearchOptions:
    """Settings of a MetaSchedule search (the defaults are what ``autotune tune`` uses)."""

    trials_per_iter: int = 64  # candidates measured per batch
    seed: int | None = None  # search seed (None: a random one)
    variants: bool = False  # also tune the layout variants; the fastest validated one serves
    warm_start: bool = False  # the cost model first learns from this target's logs
    model_warmup: int | None = None  # measurements before the cost model ranks (None: 100)
    transfer: bool = True  # a new log starts from similar workloads' best schedules

    def __post_init__(self) -> None:
        if self.trials_per_iter < 1:
            raise AutotuneError(f"trials_per_iter must be >= 1, got {self.trials_per_iter}")
        if self.model_warmup is not None and self.model_warmup < 1:
            raise AutotuneError(f"model_warmup must be >= 1, got {self.model_warmup}")
