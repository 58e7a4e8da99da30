"""MetaSchedule's evolutionary search, which does not evolve by scores that rank nothing.

Until TVM's ``XGBModel`` holds ``num_warmup_samples`` measurements (100 by default) it
answers with random numbers. MetaSchedule's evolutionary search still runs its genetic
iterations on them: four rounds of mutating and post-processing the whole population
(512 schedules), 11 of the 15 s that a C=37 conv's first batch spends searching on 2
cores, to end with candidates picked at random. ``ColdStartSearch`` draws those batches
from the initial population instead (the same search with ``genetic_num_iters=0``) and
evolves as MetaSchedule does from the first batch on which the model ranks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.search_strategy import EvolutionarySearch, PySearchStrategy
from tvm.s_tir.schedule import Trace
from tvm_ffi import structural_hash

from autotune.search.transfer import measure_candidate, target_annotations, transfer

log = logging.getLogger(__name__)


def model_ranks(cost_model) -> bool:
    """Whether ``cost_model`` ranks candidates (one that says nothing of its warm-up does)."""
    warmup = getattr(cost_model, "num_warmup_samples", None)
    size = getattr(cost_model, "data_size", None)
    if warmup is None or size is None:
        return True
    return size >= warmup and getattr(cost_model, "booster", True) is not None


@derived_object
class ColdStartSearch(PySearchStrategy):
    """Evolutionary search that samples without evolving while the cost model is cold.

    ``cost_model`` is the model the search is run with (the one MetaSchedule hands the
    strategy back is a bare FFI handle that cannot say whether it ranks). Both phases are
    TVM's ``EvolutionarySearch`` with the same settings (``kwargs``), but the cold one has
    no genetic iterations. Each is told every measurement, so their trial counts agree;
    the evolving one learns of the cold one's candidates from the database.

    ``seeds`` are traces of other workloads of the same template (``autotune.search.transfer``):
    fitted to this one, they take up to half of each batch until they are used up, and
    once measured, the evolution starts from the best of them as from any record.

    ``siblings``, called before each batch after the first, gives the schedules that the
    run's other tasks of the same template found since it was last called
    (``transfer.SiblingDonors``): they go first among the seeds, so what one kernel's
    search finds is tried on its neighbours within the same run.

    ``trials_left`` says how many trials the run's budget has left (all tasks together): a
    batch is cut to it, so the last one does not overshoot the budget.
    """

    def __init__(self, cost_model, seeds: Sequence[Trace] = (),
                 trials_left: Callable[[], int] | None = None,
                 siblings: Callable[[], list[Trace]] | None = None, **kwargs) -> None:
        super().__init__()
        self.cost_model = cost_model
        self.seeds = list(seeds)
        self.trials_left = trials_left
        self.siblings = siblings
        self.batches = 0
        self.kwargs = kwargs
        self.context = None
        self.annotations = {}  # the task's target limits, set on seeds (target_annotations)
        self.warm = EvolutionarySearch(**kwargs)
        self.cold = EvolutionarySearch(**{**kwargs, "genetic_num_iters": 0})

    def _initialize_with_tune_context(self, context) -> None:
        self.context = context
        for strategy in (self.cold, self.warm):
            strategy._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database=None,
                   cost_model=None) -> None:
        self.annotations = target_annotations(design_spaces)
        for strategy in (self.cold, self.warm):
            strategy.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database,
                                cost_model)

    def post_tuning(self) -> None:
        for strategy in (self.cold, self.warm):
            strategy.post_tuning()

    def generate_measure_candidates(self):
        left = self.trials_left() if self.trials_left is not None else None
        if left is not None and left <= 0:
            return None
        if self.batches and self.siblings is not None:
            self.seeds[:0] = self.siblings()
        self.batches += 1
        strategy = self.warm if model_ranks(self.cost_model) else self.cold
        candidates = strategy.generate_measure_candidates()
        if candidates and self.seeds:
            candidates = self._seeded(list(candidates))
        if candidates and left is not None and len(candidates) > left:
            candidates = list(candidates)[:left]  # the strategies count what was measured
        return candidates

    def _seeded(self, candidates: list) -> list:
        """The batch with up to half of it given to schedules carried over from ``seeds``."""
        postprocs = self.context.space_generator.postprocs
        carried, seen, tried = [], set(), 0
        while self.seeds and len(carried) < max(1, len(candidates) // 2):
            sch = transfer(self.seeds.pop(0), self.context.mod, postprocs, self.annotations)
            tried += 1
            if sch is not None and (key := structural_hash(sch.mod)) not in seen:
                seen.add(key)
                carried.append(measure_candidate(sch))
        log.info("%s: carried over %d of %d schedules of other workloads",
                 self.context.task_name, len(carried), tried)
        return carried + candidates[:len(candidates) - len(carried)]

    def notify_runner_results(self, measure_candidates, results) -> None:
        for strategy in (self.cold, self.warm):
            strategy.notify_runner_results(measure_candidates, results)

    def clone(self) -> ColdStartSearch:
        return ColdStartSearch(self.cost_model, self.seeds, self.trials_left, self.siblings,
                               **self.kwargs)
