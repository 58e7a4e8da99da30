"""Run a suite: tune (or reuse logs), then time tuned, untuned and every baseline alike.

Writes one tidy table, one row per workload x implementation, as CSV and Parquet, and the
tuning curves of every workload, under ``OUT/<target key>/``.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import tvm
from tqdm.auto import tqdm

from autotune.baselines import Baseline, baselines_for
from autotune.benchmark.table import finish_table, write_tables
from autotune.cluster.ray_suite import RayCluster, bench_on_ray
from autotune.hardware.peaks import measure_peaks
from autotune.hardware.target import target_key, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.events import trials_done, tuning_curve
from autotune.logs.store import DEFAULT_LOG_DIR, LogStore
from autotune.measure.compare import compare_on_device, compare_workload
from autotune.measure.compile import protocol_for
from autotune.measure.device import KernelDevice
from autotune.measure.protocol import Protocol
from autotune.search.options import Budget, SearchOptions
from autotune.search.tune import tune_budget
from autotune.search.workers import Workers
from autotune.workload.suite import Suite, load_suite

log = logging.getLogger(__name__)


@dataclass
class BenchResult:
    results: pd.DataFrame
    curves: pd.DataFrame
    files: list[Path]
    skipped: dict[str, str]  # baseline name -> why it did not run


def bench(
    suite: Suite | str | Path,
    target: str | dict | tvm.target.Target = "cpu",
    trials: int | None = None,
    log_dir: str | Path = DEFAULT_LOG_DIR,
    out_dir: str | Path = "results",
    *,
    baselines: list[str] | None = None,
    time_budget: str | float | None = None,
    protocol: Protocol | None = None,
    progress: bool = True,
    command: str | None = None,
    search: SearchOptions = SearchOptions(),
    cluster: RayCluster | None = None,
    workers: Workers | None = None,
) -> BenchResult:
    """Benchmark every workload of ``suite`` on ``target``.

    Each workload's log is topped up to its trial budget (``trials`` overrides the suite's);
    a log that already has that many trials is reused as is. With ``time_budget``, the
    workloads that need trials are tuned together under that one wall-clock budget (and the
    sum of their trial budgets), shared out by MetaSchedule's task scheduler. Then the
    tuned kernel, TVM's untuned kernel and each available baseline are checked against the
    NumPy reference and timed with one protocol, all with the target's thread count.
    ``search`` is ``tune``'s. With ``variants``, each workload's budget covers it and its
    layout variants together, and the tuned row is the fastest validated variant (named in
    the ``variant`` column). With ``transfer``, each new log starts from similar workloads'
    best schedules (workloads tuned one after another start from those before them).
    With ``cluster``, every workload is a task on that Ray cluster, tuned and timed on the
    worker that runs it, its log merged back here as it grows (``autotune.cluster``;
    ``time_budget`` is then each workload's). ``workers``: where candidates are built and
    measured (``Workers(remote)``: on remote devices; see ``bench_budget``).
    """
    return bench_budget(suite, target, Budget(trials, time_budget, log_dir), out_dir,
                        baselines=baselines, protocol=protocol, progress=progress,
                        command=command, search=search, cluster=cluster, workers=workers)


def bench_budget(
    suite: Suite | str | Path,
    target: str | dict | tvm.target.Target,
    budget: Budget,
    out_dir: str | Path = "results",
    *,
    baselines: list[str] | None = None,
    protocol: Protocol | None = None,
    progress: bool = True,
    command: str | None = None,
    search: SearchOptions = SearchOptions(),
    cluster: RayCluster | None = None,
    workers: Workers | None = None,
) -> BenchResult:
    """``bench`` with its budget and logs as one value (``trials`` None: the suite's).
    ``workers``: where to build and measure (``Workers(remote)``: on remote devices, where
    the tuned and untuned kernels are then timed bare, and no library runs)."""
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    if cluster is not None:
        return bench_on_ray(suite, target, budget, Path(out_dir), cluster, baselines=baselines,
                            protocol=protocol, progress=progress, command=command,
                            search=search)
    with ExitStack() as stack:
        if workers is None:  # started once, warm for every search of the suite
            workers = stack.enter_context(Workers())
        return _bench_on(suite, target, budget, Path(out_dir), workers, baselines, protocol,
                         progress, command, search)


def _bench_on(suite: Suite, target, budget: Budget, out_dir: Path, workers: Workers,
              baselines: list[str] | None, protocol: Protocol | None, progress: bool,
              command: str | None, search: SearchOptions) -> BenchResult:
    """``bench_budget`` with ``workers`` to tune, check and time on."""
    tgt = workers.target(target)
    workers.device.require(tgt)
    protocol = protocol or protocol_for(tgt)
    remote = workers.remote is not None
    competing, skipped = competing_baselines(tgt, baselines) if not remote else \
        ([], {"every library": f"the kernels ran on remote devices ({workers.remote}); "
                               "the libraries run only here"})
    threads = target_threads(tgt)
    set_threads(threads)
    _tune_missing(suite, tgt, budget, search, progress, workers)
    peaks = None if remote else measure_peaks(tgt)
    rows, curves = time_suite(suite, budget.store, tgt, competing, protocol, progress,
                              workers.device if remote else None)
    results = finish_table(pd.DataFrame(rows), suite, tgt, threads, peaks, command, competing)
    curve_table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    files = write_tables(results, curve_table, Path(out_dir) / target_key(tgt), suite.name)
    return BenchResult(results, curve_table, files, skipped)


def competing_baselines(tgt: tvm.target.Target,
                        names: list[str] | None) -> tuple[list[Baseline], dict]:
    """The baselines that can run here, and why each other one cannot."""
    kind = "cpu" if tgt.kind.name == "llvm" else tgt.kind.name
    competing, skipped = [], {}
    for baseline in baselines_for(kind, names):
        reason = baseline.unavailable()  # imports the library, before threads are set
        if reason:
            skipped[baseline.name] = reason
            log.warning("baseline %s skipped: %s", baseline.name, reason)
        else:
            competing.append(baseline)
    return competing, skipped


def _tune_missing(suite: Suite, tgt, budget: Budget, search: SearchOptions,
                  progress: bool, workers: Workers) -> None:
    """Top every workload's log up to its trial budget: one after another, or all under
    one shared time budget."""
    store = budget.store
    missing = {}
    for item in suite.items:
        wanted = budget.trials if budget.trials is not None else (item.trials or 0)
        tuned = item.workload.variants(search.variants)
        done = sum(trials_done(store.open(v, tgt, create=True).path) for v in tuned)
        if wanted > done:
            missing[item.workload] = wanted - done
    if missing and budget.time_budget is not None:  # one budget, shared by the scheduler
        tune_budget(list(missing), tgt, replace(budget, trials=sum(missing.values())),
                    progress=progress, search=search, workers=workers)
        return
    for workload, count in missing.items():
        tune_budget([workload], tgt, replace(budget, trials=count, time_budget=None),
                    progress=progress, search=search, workers=workers)


def time_suite(suite: Suite, store: LogStore, tgt, competing: list[Baseline],
               protocol: Protocol, progress: bool, device: KernelDevice | None = None
               ) -> tuple[list[dict], list[pd.DataFrame]]:
    """Every implementation of every workload, timed: the rows, and the tuning curves of
    the kernels that won. ``device``: a remote device to check and time TVM's kernels on
    (None: here, beside ``competing``)."""
    rows: list[dict] = []
    curves: list[pd.DataFrame] = []
    for item in tqdm(suite.items, desc="timing", unit="workload", disable=not progress):
        wl = item.workload
        logged = {v.key: tuning_curve(store.path(v, tgt), wl.flops) for v in wl.variants()
                  if store.path(v, tgt).exists()}
        logged = {key: curve for key, curve in logged.items() if len(curve)}
        timed = compare_workload(wl, store, tgt, competing, protocol) if device is None \
            else compare_on_device(wl, store, tgt, device, protocol)
        for row in timed:
            tuned = row["implementation"] == "tvm-tuned" and bool(logged)
            row["trials"] = sum(int(c["trial"].max()) for c in logged.values()) if tuned else 0
            row["tuning_s"] = sum(float(c["elapsed_s"].max()) for c in logged.values()) if tuned else 0.0
            if tuned and row["variant"] in logged:  # the curve of the kernel that won
                curves.append(logged[row["variant"]].assign(workload=wl.key))
            rows.append(row)
    return rows, curves


