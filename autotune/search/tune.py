"""Tune one workload on one target with MetaSchedule, then validate and time the best kernel."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import filelock
import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.logging import get_loggers_from_work_dir
from tvm.s_tir.meta_schedule.utils import cpu_count, fork_seed
from tvm.s_tir.schedule import ScheduleError

from autotune.baselines import baselines_for
from autotune.errors import (
    AutotuneError,
    Interrupted,
    LogError,
    RemoteError,
    WorkloadError,
    first_line,
)
from autotune.hardware.target import target_key, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.events import EventLog
from autotune.logs.routed import RoutedDatabase
from autotune.logs.store import DEFAULT_LOG_DIR, LogEntry, LogStore
from autotune.measure.compile import protocol_for
from autotune.measure.device import KernelDevice, LocalDevice, time_in_turns
from autotune.measure.protocol import Protocol, Timing, input_sets, measure
from autotune.measure.validate import best_validated, record_winner
from autotune.search.callbacks.per_task import PerTask
from autotune.search.callbacks.progress import ProgressBar
from autotune.search.cost_model import cold_cost_model, warm_cost_model
from autotune.search.intrinsics import load_tensor_intrinsics
from autotune.search.options import Budget, SearchOptions
from autotune.search.scheduler import GradientScheduler
from autotune.search.space import space_generator
from autotune.search.strategy import ColdStartSearch
from autotune.search.transfer import SiblingDonors, donor_traces, packaged_logs
from autotune.search.workers import Workers
from autotune.workload import Workload

UNLIMITED = 1 << 30  # trial cap when only a time budget is given
MIN_FREE_BYTES = 64 << 20  # no new batch starts with less free space where the logs go


@dataclass
class TuneResult:
    """Outcome of tuning one workload: the best validated kernel and how it was found."""

    workload: str
    target: str
    log_path: str
    validated: bool
    latency_s: float | None  # re-measured median of the chosen kernel
    gflops: float | None
    timing: dict | None
    tuning_latency_s: float | None  # what MetaSchedule measured for the chosen record
    records: int  # measured candidates in the log (with variants: in every variant's log)
    rejected: int  # faster records that failed validation
    trials_run: int
    seconds: float
    variant: str | None = None  # the layout variant whose kernel won (None: not tuned with variants)
    variant_latency_s: dict | None = None  # re-measured median of each validated variant

    def to_json(self) -> dict:
        return asdict(self)


def tune(
    workload: Workload,
    target: str | dict | tvm.target.Target = "cpu",
    trials: int | None = 64,
    log_dir: str | Path = DEFAULT_LOG_DIR,
    *,
    time_budget: str | float | None = None,
    progress: bool = True,
    search: SearchOptions = SearchOptions(),
    workers: Workers | None = None,
) -> TuneResult:
    """Run up to ``trials`` more MetaSchedule trials into the workload's log, pick the best.

    ``time_budget`` (``"8h"``, ``"45m"``, seconds) ends the search after the batch in which
    it runs out, whichever of the two comes first; ``trials=None`` means no trial limit.
    The search is TVM's evolutionary search with the XGBoost cost model; rerunning on an
    existing log continues from the records already there. The best record is built and
    checked against the NumPy reference; one that fails is skipped for the next best.
    One process at a time tunes a log: another waits for it. ``search`` holds the rest:
    with ``variants``, the workload's layout variants (``Workload.variants``) are tuned too,
    under the same budget, and the fastest validated one is chosen and recorded
    (``TuneResult.variant``). With ``warm_start``, the cost model first learns from the
    records already measured on this target under ``log_dir`` (``search.cost_model``);
    without, it starts cold, and ranks candidates at random until it holds
    ``model_warmup`` measurements (None: MetaSchedule's 100; a number also retrains it after
    every batch). With ``transfer``, a search that starts an empty log first measures the
    best schedules of the most similar workloads already tuned for this target (then of the
    seed logs, ``seed_logs``), fitted to this one (``search.transfer``). ``workers`` are
    the build and measure processes to reuse across calls (``search.workers.Workers``);
    None: this call starts its own and stops them before it returns. ``Workers(remote)``
    measures on the devices registered with a TVM RPC tracker (``autotune.Remote``), where
    the best record is then checked and timed too; ``target="cpu"`` is then their CPU.
    """
    return tune_many([workload], target, trials, log_dir, time_budget=time_budget,
                     progress=progress, search=search, workers=workers)[0]


def tune_many(
    workloads: list[Workload],
    target: str | dict | tvm.target.Target = "cpu",
    trials: int | None = None,
    log_dir: str | Path = DEFAULT_LOG_DIR,
    *,
    time_budget: str | float | None = None,
    progress: bool = True,
    search: SearchOptions = SearchOptions(),
    workers: Workers | None = None,
    weights: Mapping[Workload, float] | None = None,
) -> list[TuneResult]:
    """Tune several workloads under one budget shared by MetaSchedule's task scheduler.

    ``trials`` and ``time_budget`` are totals for all workloads together; the (gradient)
    task scheduler gives the trials to the tasks it expects to gain most from. Each
    workload's records go to its own log, exactly as ``tune`` writes them. With
    ``variants``, every layout variant is a task of its own, and each workload's result
    is that of its fastest validated variant. ``search`` is ``tune``'s. ``weights`` scale
    each workload's expected gain (e.g. by how often a model calls it; default 1).
    """
    return tune_budget(workloads, target, Budget(trials, time_budget, log_dir),
                       progress=progress, search=search, workers=workers, weights=weights)


def tune_budget(
    workloads: list[Workload],
    target: str | dict | tvm.target.Target,
    budget: Budget,
    *,
    progress: bool = True,
    search: SearchOptions = SearchOptions(),
    workers: Workers | None = None,
    weights: Mapping[Workload, float] | None = None,
) -> list[TuneResult]:
    """``tune_many`` with its budget and logs as one value. ``workers``: the build and
    measure processes to use and keep (``search.workers``); None: started and stopped here.
    ``weights``: how much each workload's latency counts when the budget is shared (a
    model's kernel by its number of calls; 1 for any not given); its variants share it."""
    budget.require_limit()
    trials = UNLIMITED if budget.trials is None else budget.trials
    workloads = list(dict.fromkeys(workloads))
    if not workloads:
        raise AutotuneError("nothing to tune: give at least one workload")
    own = workers is None
    workers = Workers() if own else workers
    try:
        return _tune_groups(workloads, target, budget, trials, progress, search, workers,
                            weights)
    finally:  # every worker ends with the search, however it ends
        if own:
            workers.close()


def _tune_groups(workloads: list[Workload], target, budget: Budget, trials: int, progress: bool,
                 search: SearchOptions, workers: Workers,
                 weights: Mapping[Workload, float] | None) -> list[TuneResult]:
    """``tune_budget`` on ``workers``: measured, checked and timed on their devices."""
    tgt = workers.target(target)
    device = workers.device
    device.require(tgt)  # fail now, not after the search, if nothing can run the kernels
    set_threads(target_threads(tgt))  # the search measures with the threads deployment uses
    store = budget.store
    groups = [wl.variants(search.variants) for wl in workloads]
    entries = [store.open(v, tgt, create=True) for group in groups for v in group]
    started = time.perf_counter()
    ran = [0] * len(entries)
    if trials:
        with ExitStack() as stack:
            # In one order (by path) in every process: two runs sharing logs given in
            # different orders would otherwise each hold one and wait for the other forever.
            for entry in sorted(entries, key=lambda e: str(e.path)):
                stack.enter_context(_tuning_lock(entry, progress))
            cost_model = _cost_model(search, store, tgt, progress)
            seeds = _seeds(store, tgt, entries, search, progress) if search.transfer else None
            task_weights = [float((weights or {}).get(wl, 1.0))
                            for wl, group in zip(workloads, groups) for _ in group]
            task_groups = [i for i, group in enumerate(groups) for _ in group]
            workers.share_weights([e.workload for e in entries], tgt)
            ran = _search(entries, tgt, trials, budget.time_budget, search, cost_model, seeds,
                          progress, workers, task_weights, task_groups)
    elapsed = time.perf_counter() - started
    results = [summarize(e, n, elapsed, device) for e, n in zip(entries, ran)]
    if search.variants == "none":
        return results
    pairs = iter(zip(entries, results))
    picked = []
    for wl, group in zip(workloads, groups):
        mine = [next(pairs) for _ in group]
        picked.append(_pick_variant(store, wl, tgt, [r for _, r in mine],
                                    _variant_latencies(mine, tgt, device)))
    return picked


VARIANT_ROUNDS = 3  # rounds in which a workload's validated variants are timed in turns


def _variant_latencies(pairs: list[tuple[LogEntry, TuneResult]], tgt,
                       device: KernelDevice) -> dict[str, float]:
    """Each validated variant's latency for the choice between them: timed in turns
    (``time_in_turns``, the protocol's samples split over ``VARIANT_ROUNDS`` rounds) where
    there are several, since one timing after the other put a 46 us depthwise conv at
    87 us in a slow spell and served a 63 us layout instead."""
    valid = [(entry, result) for entry, result in pairs if result.validated]
    if len(valid) < 2:
        return {result.workload: result.latency_s for _, result in valid}
    protocol = protocol_for(tgt)
    protocol = replace(protocol, repeat=max(3, protocol.repeat // VARIANT_ROUNDS))
    timers = []
    for entry, _ in valid:
        choice = best_validated(entry, check=device.check)
        timers.append(device.timer(choice.module, entry.workload, tgt, protocol))
    medians = time_in_turns(timers, VARIANT_ROUNDS)
    return {result.workload: median for (_, result), median in zip(valid, medians)}


def _cost_model(search: SearchOptions, store: LogStore, tgt, progress: bool):
    """The search's cost model: warmed on this target's logs, cold with a warm-up of its
    own, or MetaSchedule's default."""
    threads = cpu_count(logical=False)
    if search.warm_start:
        return warm_cost_model(store.entries(tgt), tgt, threads, seed=search.seed,
                               progress=progress)
    if search.model_warmup is not None:
        return cold_cost_model(threads, search.model_warmup)
    # MetaSchedule's own, as ``tune_tasks`` makes it from "xgb"
    return ms.CostModel.create("xgb", num_tuning_cores=threads, tree_method="auto")


@contextmanager
def _tuning_lock(entry, progress: bool):
    lock = entry.lock()
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if progress:
            print(f"waiting: another process is tuning {entry.path}", file=sys.stderr)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _quiet_metaschedule_logger():
    """Quiet MetaSchedule's console logging, and hide handlers it cannot configure.

    MetaSchedule rebuilds its logger with ``logging.config.dictConfig`` from the names of
    the handlers already on it, and fails on a handler without a name (such as pytest's
    capture handlers); those are detached during the search and put back after.
    """
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    logger.setLevel(logging.WARNING)
    unnamed = [h for h in logger.handlers if h.get_name() is None]
    for handler in unnamed:
        logger.removeHandler(handler)
    # A text log that cannot be written (a full disk) is not worth a traceback per line:
    # the search stops itself when space runs low (MIN_FREE_BYTES).
    raising, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        yield
    finally:
        logging.raiseExceptions = raising
        for handler in unnamed:
            logger.addHandler(handler)


def _pick_variant(store: LogStore, wl: Workload, tgt, results: list[TuneResult],
                  timed: dict[str, float]) -> TuneResult:
    """The result of ``wl``'s fastest validated variant by ``timed`` (each validated
    variant's latency), the winner recorded in its log."""
    best = results[0]
    if timed:
        winner = record_winner(store, wl, tgt, timed)
        best = next(r for r in results if r.workload == winner)
    return replace(best, workload=wl.key, variant=best.workload if timed else None,
                   variant_latency_s=timed, records=sum(r.records for r in results),
                   rejected=sum(r.rejected for r in results),
                   trials_run=sum(r.trials_run for r in results))


def _seeds(store: LogStore, tgt, entries, search: SearchOptions, progress: bool) -> list[list]:
    """For each log with no records yet, schedules of similar workloads' logs to start from:
    this target's, then the seed logs' (a log with records, tuned here or merged in,
    starts from its own)."""
    logs, packaged = store.entries(tgt), packaged_logs(tgt, search.seed_logs)
    seeds = [[] if e.has_records() else donor_traces(e.workload, logs, packaged)
             for e in entries]
    if progress and any(seeds):
        print(f"starting {sum(map(bool, seeds))} of {len(entries)} searches from "
              f"{sum(map(len, seeds))} schedules of similar workloads (this target's logs "
              f"first, then the seed logs)", file=sys.stderr)
    return seeds


# Every task gets a first batch before the scheduler chooses by expected gain: with many
# tasks the first round is capped near this many trials, so that a 30-minute budget is not
# spent on cold first batches alone (a MobileNet's 31 kernels x 64 = 1984 trials, about
# all that 2 cores measured in 30 minutes here, 1.25 trials/s on small convs).
FIRST_ROUND_TRIALS = 512
MIN_SHARED_BATCH = 16


def batch_size(trials_per_iter: int, trials: int, tasks: int) -> int:
    """Candidates per batch: ``trials_per_iter``, but small enough that one task cannot take
    the whole trial budget at once, that the first round (a batch for each of ``tasks``)
    leaves at least half of a trial budget to the tasks that gain most (a conv's leading
    layout variant), and that the first round stays near ``FIRST_ROUND_TRIALS`` (not below
    ``MIN_SHARED_BATCH`` a task)."""
    shared = max(MIN_SHARED_BATCH, FIRST_ROUND_TRIALS // tasks)
    first_round = trials if tasks == 1 else trials // 2
    return max(1, min(trials_per_iter, first_round // tasks, shared))


def _search(entries, tgt, trials, seconds, search: SearchOptions, cost_model, seeds,
            progress: bool, workers: Workers, task_weights: list[float],
            task_groups: list[int]) -> list[int]:
    """One MetaSchedule task per log, one budget, each task's records into its own log,
    built and measured by ``workers`` (which stop the search when its devices are gone); the
    scheduler weighs each task's expected gain by ``task_weights``, and the variants of one
    workload (the same ``task_groups`` number) through the fastest of them.

    Returns the trials measured into each log.
    """
    for entry in entries:
        entry.database()  # set aside damaged lines before MetaSchedule reads the files
    total = trials if trials != UNLIMITED else None
    batch = batch_size(search.trials_per_iter, trials, len(entries))
    if progress and len(entries) > 1:  # the bar moves only once the first round is joined
        print(f"first round: a batch of {batch} for each of the {len(entries)} tasks "
              f"({batch * len(entries)} trials), then the budget goes where it gains most",
              file=sys.stderr)
    bar = _progress_bar(entries, total, progress, local=workers.remote is None,
                        groups=task_groups, weights=task_weights)
    work_dir = entries[0].path
    if len(entries) > 1:
        work_dir = Path(entries[0].path).parent / "_suite"
        work_dir.mkdir(exist_ok=True)
    run = f"{os.getpid()}-{time.time_ns()}"
    events = [EventLog(e.path, e.workload.key, total if len(entries) == 1 else None,
                       shared=len(entries) > 1, reference=bar.reference, run=run)
              for e in entries]
    before = [log.trial for log in events]

    def gained() -> list[int]:  # trials measured into each log by this run so far
        return [log.trial - b for log, b in zip(events, before)]

    def trials_left() -> int:  # of the whole run's budget; none once Ctrl-C was pressed
        return 0 if interrupted or disk_low() else trials - sum(gained())

    def disk_low() -> bool:  # a full disk would tear the logs' lines and lose the batch
        return _free_bytes(work_dir) < MIN_FREE_BYTES

    database = RoutedDatabase(entries)
    siblings = SiblingDonors([e.workload for e in entries], database.routes) \
        if search.transfer and len(entries) > 1 else None
    load_tensor_intrinsics(tgt)  # before TuneContext would import every backend's
    interrupted, restore = _watch_interrupts(progress)
    lost: list[str] = []

    def devices_lost() -> bool:  # remote devices all gone: no further batch
        if not lost and (why := workers.lost()) is not None:
            lost.append(why)
        return bool(lost)

    try:
        with _quiet_metaschedule_logger():
            ms.tune_tasks(
                tasks=_tasks(entries, tgt, work_dir, search, search.population_for(batch),
                             cost_model, seeds, trials_left, siblings),
                task_weights=task_weights,
                work_dir=str(work_dir),
                max_trials_global=trials,
                num_trials_per_iter=batch,
                builder=workers.builder,
                cost_model=cost_model,
                runner=workers.runner_for(tgt),
                database=database,
                measure_callbacks=[*ms.MeasureCallback.create("default"), bar,
                                   PerTask(events)],
                task_scheduler=GradientScheduler(
                    lambda i: (events[i].trial, events[i].best), seconds, seed=search.seed,
                    charge=lambda i, s: events[i].charge(s),
                    stop=lambda: bool(interrupted) or disk_low() or devices_lost(),
                    groups=task_groups),
            )
        if interrupted:
            raise _interrupted(gained())
        if lost:
            raise RemoteError(f"{lost[0]}: the search stopped after {sum(gained())} trial(s), "
                              "every one kept in the log; run it again to continue")
        if disk_low():
            raise LogError(
                f"only {_free_bytes(work_dir) >> 20} MiB left on the disk of {work_dir}: the "
                "search stopped after its last whole batch (every record so far is kept); free "
                "some space and run it again to continue")
    except Exception as err:
        if interrupted:  # TVM's FFI hands a Ctrl-C in native code back as a bare error
            raise _interrupted(gained()) from None
        if database.failed is not None:  # a record not written whole: the disk filled up
            raise database.failed from None
        if isinstance(err, ScheduleError):  # no trial ran: a template no rule can sketch
            raise WorkloadError(
                f"MetaSchedule cannot build a design space for "
                f"{', '.join(e.workload.key for e in entries)}: {_schedule_error(err)}") from None
        raise
    finally:
        restore()
        bar.close()
        for log in events:
            log.close()
    return gained()


def _interrupted(gained: list[int]) -> Interrupted:
    return Interrupted(
        f"interrupted: {sum(gained)} trial(s) of this run are kept in the log"
        f"{'s' if len(gained) > 1 else ''}; run the same command again to continue")


def _schedule_error(err: ScheduleError) -> str:
    """The one line of a ScheduleError that says what is wrong (it also prints the IR)."""
    for line in str(err).splitlines():
        if line.startswith("Error message:"):
            return line.removeprefix("Error message:").strip()
    return first_line(err)


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _watch_interrupts(progress: bool) -> tuple[list[int], Callable[[], None]]:
    """Turn the first Ctrl-C (SIGINT) into a request to stop: the list it returns fills
    up, the search ends after the batch in flight (whose records are kept) and the caller
    raises KeyboardInterrupt; a second Ctrl-C interrupts at once. (Raised inside TVM's
    native code, a KeyboardInterrupt comes back as a bare error, or kills the process.)
    The function it returns puts the old handler back. Off the main thread, where no
    handler can be set, nothing changes."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        return seen, lambda: None
    previous = signal.getsignal(signal.SIGINT)

    def note(signum, frame):
        seen.append(signum)
        signal.signal(signal.SIGINT, previous)
        if progress:
            print("\nstopping after this batch (Ctrl-C again to stop at once)", file=sys.stderr)

    signal.signal(signal.SIGINT, note)
    return seen, lambda: signal.signal(signal.SIGINT, previous)


def _tasks(entries, tgt, work_dir: Path, search: SearchOptions, population: int, cost_model,
           seeds, trials_left, siblings: SiblingDonors | None = None) -> list[ms.TuneContext]:
    """One MetaSchedule task per log, each with its own logger, random state and seeds
    (and, given ``siblings``, the run's other tasks' schedules as they are found)."""
    names = [e.workload.key for e in entries]
    loggers = get_loggers_from_work_dir(str(work_dir), names)
    rands = fork_seed(search.seed, n=len(entries))
    return [
        ms.TuneContext(
            mod=e.workload.module(tgt), target=tgt, space_generator=space_generator(e.workload, tgt),
            search_strategy=_strategy(search, population, cost_model, traces, trials_left,
                                      partial(siblings.fresh, i) if siblings else None),
            task_name=name, rand_state=rand, num_threads="physical", logger=logger,
        ).clone()
        for i, (e, name, logger, rand, traces) in enumerate(
            zip(entries, names, loggers, rands, seeds or [[]] * len(entries)))
    ]


def _strategy(search: SearchOptions, population: int, cost_model, traces, trials_left,
              siblings=None):
    """The task's search strategy, as ``search.strategy`` names it."""
    settings = {"population_size": population,
                "init_min_unmeasured": min(50, population)}  # 50: MetaSchedule's
    if search.strategy == "evolutionary":  # MetaSchedule's own, as tune_tir makes it
        return ms.search_strategy.EvolutionarySearch(**settings)
    return ColdStartSearch(cost_model, traces, trials_left, siblings, **settings)


def _progress_bar(entries, total: int | None, progress: bool, local: bool,
                  groups: list[int] | None = None,
                  weights: list[float] | None = None) -> ProgressBar:
    """One bar for the run; for one workload measured here it shows the speedup over the
    fastest library on this machine, for several the weighted sum of their bests."""
    if len(entries) == 1:  # GFLOP/s and a speedup mean something for one workload
        wl = entries[0].workload
        reference = _fastest_library(wl, entries[0].target) if progress and local else None
        return ProgressBar(total, wl.flops, wl.key, disable=not progress, reference=reference)
    return ProgressBar(total, None, f"{len(entries)} tasks", disable=not progress,
                       groups=groups, weights=weights)


def _fastest_library(wl: Workload, target: tvm.target.Target) -> tuple[str, float] | None:
    """The fastest CPU library's name and quick time, for the progress bar's running
    speedup (not a benchmark: ``bench`` times them properly); None on GPUs."""
    if target.kind.name != "llvm":
        return None
    quick = Protocol(repeat=3, min_sample_s=0.005, warmup_s=0.0, max_sets=1)
    times = {}
    for baseline in baselines_for("cpu"):
        if baseline.unavailable() or not baseline.supports(wl):
            continue
        try:
            times[baseline.name] = measure(baseline.prepare(wl, input_sets(wl, 1)), quick).median
        except Exception:  # pylint: disable=broad-except  # the bar goes on without it
            continue
    return min(times.items(), key=lambda item: item[1]) if times else None


def summarize(entry, trials_run: int = 0, seconds: float = 0.0,
              device: KernelDevice = LocalDevice()) -> TuneResult:
    """Validate and time the best record of a log, on ``device`` (where it was measured)."""
    tgt, wl = entry.target, entry.workload
    choice = best_validated(entry, check=device.check)
    records = len(entry.database().get_all_tuning_records())
    timing: Timing | None = None
    if choice is not None:
        timing = device.time(choice.module, wl, tgt, protocol_for(tgt))
    return TuneResult(
        workload=wl.key,
        target=target_key(tgt),
        log_path=str(entry.path),
        validated=choice is not None,
        latency_s=timing.median if timing else None,
        gflops=wl.flops / timing.median / 1e9 if timing else None,
        timing=timing.to_json() if timing else None,
        tuning_latency_s=choice.tuning_seconds if choice else None,
        records=records,
        rejected=choice.rejected if choice else 0,
        trials_run=trials_run,
        seconds=seconds,
    )
