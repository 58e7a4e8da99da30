"""How a search runs (``SearchOptions``) and how much of it (``Budget``): two values that
every tuning entry point passes down unchanged.

A new setting is one field (and one CLI option), not an edit of every function on the way
down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autotune.errors import AutotuneError
from autotune.logs.store import DEFAULT_LOG_DIR, LogStore
from autotune.search.budget import parse_duration
from autotune.workload.template import INT32_MAX
from autotune.workload.workload import VARIANT_POLICIES

PACKAGED_SEEDS = Path(__file__).parent / "seeds"  # seed logs shipped with autotune
STRATEGIES = ("autotune", "evolutionary")
# A model's 31 kernels share batches of 16: evolving MetaSchedule's 512 schedules for each
# took 52 of a warm batch's 66 s on 2 cores (4 genetic rounds of 13 s).
POPULATION_PER_CANDIDATE, MIN_POPULATION, MAX_POPULATION = 8, 128, 512


@dataclass(frozen=True)
class SearchOptions:
    """Settings of a MetaSchedule search (the defaults are what ``autotune tune`` uses)."""

    trials_per_iter: int = 64  # candidates measured per batch
    seed: int | None = None  # search seed (None: a random one)
    # Which layout variants are tuned beside (or instead of) a workload's own layout, and
    # the fastest validated one serves: "none", "auto" (those expected to pay on its shape)
    # or "all" (``Workload.variants``); True and False mean "all" and "none".
    variants: str | bool = "auto"
    warm_start: bool = False  # the cost model first learns from this target's logs
    model_warmup: int | None = None  # measurements before the cost model ranks (None: 100)
    transfer: bool = True  # a new log starts from similar workloads' best schedules
    # "autotune": evolutionary search that samples at random while the cost model is cold
    # and starts from transferred schedules (search.strategy); "evolutionary": MetaSchedule's
    # own, as ``ms.tune_tir`` runs it (no transfer).
    strategy: str = "autotune"
    # Seed logs transfer falls back on after this target's logs (None: none).
    seed_logs: Path | None = PACKAGED_SEEDS
    # Schedules the evolutionary search samples (and evolves) for every batch: MetaSchedule's
    # population_size. Sampling and evolving them is most of a small batch's cost. None: 8
    # per candidate of a batch (MetaSchedule's 512 for its 64), from 128 to 512
    # (``population_for``).
    population: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.variants, bool):
            object.__setattr__(self, "variants", "all" if self.variants else "none")
        if self.variants not in VARIANT_POLICIES:
            raise AutotuneError(f"unknown variant policy {self.variants!r}; "
                                f"choose one of {', '.join(VARIANT_POLICIES)}")
        if self.seed is not None and not 0 <= self.seed <= INT32_MAX:
            raise AutotuneError(f"seed must be between 0 and {INT32_MAX}, got {self.seed}")
        for name in ("trials_per_iter", "model_warmup", "population"):
            if (getattr(self, name) or 0) > INT32_MAX:
                raise AutotuneError(f"{name} must be at most {INT32_MAX}, got {getattr(self, name)}")
        if self.trials_per_iter < 1:
            raise AutotuneError(f"trials_per_iter must be >= 1, got {self.trials_per_iter}")
        if self.model_warmup is not None and self.model_warmup < 1:
            raise AutotuneError(f"model_warmup must be >= 1, got {self.model_warmup}")
        if self.population is not None and self.population < 2:
            raise AutotuneError(f"population must be >= 2, got {self.population}")
        if self.strategy not in STRATEGIES:
            raise AutotuneError(f"unknown search strategy {self.strategy!r}; "
                                f"known: {', '.join(STRATEGIES)}")

    def population_for(self, batch: int) -> int:
        """The population of a search whose batches measure ``batch`` candidates."""
        if self.population is not None:
            return self.population
        return max(MIN_POPULATION, min(MAX_POPULATION, POPULATION_PER_CANDIDATE * batch))


@dataclass(frozen=True)
class Budget:
    """How much a run searches, and into which logs: ``trials`` in all (None: no trial
    limit), ``time_budget`` seconds of wall clock (given as ``8h``, ``45m``, ``90s`` or a
    number; None: none), whichever ends first, and the root of the logs."""

    trials: int | None = None
    time_budget: float | None = None
    log_dir: Path = field(default=Path(DEFAULT_LOG_DIR))

    def __post_init__(self) -> None:
        if self.trials is not None and not 0 <= self.trials <= INT32_MAX:
            raise AutotuneError(f"trials must be between 0 and {INT32_MAX}, got {self.trials}")
        if not str(self.log_dir).strip():
            raise AutotuneError("the log directory is an empty path")
        if self.time_budget is not None:
            object.__setattr__(self, "time_budget", parse_duration(self.time_budget))
        object.__setattr__(self, "log_dir", Path(self.log_dir))

    @property
    def store(self) -> LogStore:
        return LogStore(self.log_dir)

    def require_limit(self) -> None:
        """AutotuneError unless the budget ends somewhere."""
        if self.trials is None and self.time_budget is None:
            raise AutotuneError("give a trial count, a time budget, or both")
