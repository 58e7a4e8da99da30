"""The search's cost model, warmed up on the measurements already in the target's logs.

MetaSchedule's XGBoost model answers with random scores until it holds
``num_warmup_samples`` (100) measurements, so a 64-trial search is a random one, and every
resumed or new search starts cold. Fed the records already measured on this target (this
workload's and every other's, a sample of each log), it ranks candidates from the first
batch. The model is TVM's own ``XGBModel``, trained by its own ``update``.
"""

from __future__ import annotations

import logging
import random
import sys
import time

import tvm
from tvm.s_tir.meta_schedule import TuneContext
from tvm.s_tir.meta_schedule.cost_model import XGBModel
from tvm.s_tir.meta_schedule.runner import RunnerResult

from autotune.logs.repair import RECORDS
from autotune.logs.store import LogEntry
from autotune.search.intrinsics import load_tensor_intrinsics

PER_LOG = 256  # records sampled from each log
TOTAL = 3072  # records in all, the most recent logs first

log = logging.getLogger(__name__)


def cold_cost_model(num_threads: int, warmup: int) -> XGBModel:
    """TVM's ``XGBModel`` with no data, ranking candidates once it holds ``warmup``
    measurements (MetaSchedule's default waits for 100) and retraining after every batch."""
    return XGBModel(extractor="per-store-feature", num_tuning_cores=num_threads,
                    tree_method="auto", num_warmup_samples=warmup, adaptive_training=False)


def warm_cost_model(
    logs: list[LogEntry],
    target: tvm.target.Target,
    num_threads: int,
    *,
    per_log: int = PER_LOG,
    total: int = TOTAL,
    seed: int | None = 0,
    progress: bool = False,
) -> XGBModel:
    """An ``XGBModel`` trained on a sample of the measured records of ``logs``.

    Logs without measured records are skipped; with none at all the model is cold, as
    MetaSchedule's default. Each log's sample is drawn with ``seed``; failed candidates
    are left out (their cost is not a time). The model trains once on all of it, and then
    after every batch of the search (upstream's adaptive schedule would wait for the new
    measurements to reach a fifth of the warm-up data before learning from them).
    """
    load_tensor_intrinsics(target)  # before TuneContext would import every backend's
    model = XGBModel(extractor="per-store-feature", num_tuning_cores=num_threads,
                     tree_method="auto")
    started = time.perf_counter()
    batches = _samples(logs, target, per_log, total, random.Random(seed))
    _train_once(model, batches)
    if batches and progress:
        fed = sum(len(results) for _, _, results in batches)
        print(f"cost model warmed up on {fed} measured records of {len(batches)} logs "
              f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return model


def _samples(logs: list[LogEntry], target, per_log: int, total: int, rng: random.Random):
    """(task, candidates, results) of a sample of each log's measured records, the most
    recently written logs first, ``total`` records at most."""
    fed, batches = 0, []
    for entry in sorted(logs, key=_last_written, reverse=True):
        records = [r for r in entry.database().get_all_tuning_records() if r.run_secs]
        if not records or fed >= total:
            continue
        sample = rng.sample(records, min(len(records), per_log, total - fed))
        try:
            context = TuneContext(mod=entry.workload.module(entry.target), target=target,
                                  task_name=entry.workload.key)
            candidates = [r.as_measure_candidate() for r in sample]
        except Exception as err:  # noqa: BLE001 - a log this TVM cannot replay is only skipped
            log.warning("cost model warm-up skips %s: %s", entry.path, str(err).splitlines()[0])
            continue
        results = [RunnerResult(run_secs=r.run_secs, error_msg=None) for r in sample]
        batches.append((context, candidates, results))
        fed += len(sample)
    return batches


def _train_once(model: XGBModel, batches) -> None:
    """Feed every batch, training once at the end; then train after every search batch."""
    for i, batch in enumerate(batches):
        # ``update`` trains when the data grew by a fifth since the last training: hold it
        # off until the last log is in, then train once.
        model.last_train_size = 0 if i == len(batches) - 1 else sys.maxsize
        model.update(*batch)
    if batches:
        # upstream's adaptive schedule would wait for the new measurements to reach a
        # fifth of the warm-up data before learning from them
        model.adaptive_training = False


def _last_written(entry: LogEntry) -> float:
    records = entry.path / RECORDS
    return records.stat().st_mtime if records.exists() else 0.0
