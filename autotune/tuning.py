"""Tune one workload on one target with MetaSchedule, then validate and time the best kernel."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import tvm
from tvm.s_tir import meta_schedule as ms

from .build import compile_module, prepare_module
from .builder import WarmBuilder
from .errors import AutotuneError
from .events import EventLog
from .logs import LogStore
from .measure import Protocol, Timing, input_sets, measure
from .progress import ProgressBar
from .select import best_validated
from .target import device_for, resolve_target, target_key, target_threads
from .threads import set_threads
from .workload import Workload

DEFAULT_LOG_DIR = "results/logs"


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
    records: int  # measured candidates in the log
    rejected: int  # faster records that failed validation
    trials_run: int
    seconds: float

    def to_json(self) -> dict:
        return asdict(self)


def tune(
    workload: Workload,
    target: str | dict | tvm.target.Target = "cpu",
    trials: int = 64,
    log_dir: str | Path = DEFAULT_LOG_DIR,
    *,
    trials_per_iter: int = 64,
    seed: int | None = None,
    progress: bool = True,
) -> TuneResult:
    """Run ``trials`` more MetaSchedule trials into the workload's log, then pick the best.

    The search is TVM's evolutionary search with the XGBoost cost model; rerunning on an
    existing log continues from the records already there. The best record is built and
    checked against the NumPy reference; one that fails is skipped for the next best.
    """
    if trials < 0:
        raise AutotuneError(f"trials must be >= 0, got {trials}")
    tgt = resolve_target(target)
    device_for(tgt)  # fail now, not after the search, if nothing can run the kernels
    set_threads(target_threads(tgt))  # the search measures with the threads deployment uses
    entry = LogStore(log_dir).open(workload, tgt, create=True)
    started = time.perf_counter()
    if trials:
        _search(entry, tgt, trials, trials_per_iter, seed, progress)
    return summarize(entry, trials, time.perf_counter() - started)


def _search(entry, tgt, trials, trials_per_iter, seed, progress) -> None:
    logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
    bar = ProgressBar(trials, entry.workload.flops, entry.workload.key, disable=not progress)
    events = EventLog(entry.path, entry.workload.key, trials)
    builder = WarmBuilder()
    try:
        ms.tune_tir(
            entry.workload.module(),
            tgt,
            work_dir=str(entry.path),
            max_trials_global=trials,
            num_trials_per_iter=min(trials_per_iter, trials),
            builder=builder,
            database=entry.database(),
            measure_callbacks=[*ms.MeasureCallback.create("default"), bar, events],
            seed=seed,
        )
    finally:
        bar.close()
        events.close()
        builder.shutdown()


def summarize(entry, trials_run: int = 0, seconds: float = 0.0) -> TuneResult:
    """Validate and time the best record of a log."""
    tgt, wl = entry.target, entry.workload
    choice = best_validated(entry)
    records = len(entry.database().get_all_tuning_records())
    timing: Timing | None = None
    if choice is not None:
        protocol = Protocol()
        rt_mod = compile_module(choice.module, tgt)
        sets = input_sets(wl, protocol.sets_for(wl))
        timing = measure(prepare_module(rt_mod, wl, sets, device_for(tgt)), protocol)
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
