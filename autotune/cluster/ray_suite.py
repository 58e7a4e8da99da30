"""A suite on a Ray cluster: each workload is a Ray task that tunes into a log of its own on
the worker (starting from the driver's copy), sends the log back after every batch, then
validates and times the tuned kernel, TVM's untuned one and the baselines there, on the
hardware it was tuned for. The driver merges what comes back into its logs as it comes,
so a worker that dies loses only its batch in flight; its workload is tried again from
what came back (``retries``), and a rerun continues from it too. Workers whose CPUs
differ tune for different targets: each target key gets its own table."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import tvm

from autotune.cluster.snapshot import Snapshot, apply, log_folders, take, unpack
from autotune.errors import AutotuneError, first_line
from autotune.search.options import Budget, SearchOptions
from autotune.workload.suite import Suite, SuiteItem

POLL_S = 1.0  # how often a worker looks for new records to send back


@dataclass(frozen=True)
class RayCluster:
    """Where a suite's workloads run: the Ray cluster at ``address`` (``auto``: the one this
    machine belongs to; ``ray://host:10001`` through Ray Client; None: the Ray instance
    this process already started with ``ray.init``). Each workload's task takes
    ``cpus_per_task`` CPUs (None: the target's cores, so that a task has a machine's cores
    to itself when it times), and is tried ``retries`` more times if its worker dies."""

    address: str | None = "auto"
    cpus_per_task: float | None = None
    retries: int = 1

    def __post_init__(self) -> None:
        if self.cpus_per_task is not None and self.cpus_per_task <= 0:
            raise AutotuneError(f"cpus per task must be positive, got {self.cpus_per_task}")
        if self.retries < 0:
            raise AutotuneError(f"retries must be >= 0, got {self.retries}")


def connect(cluster: RayCluster):
    """The ``ray`` module, connected to ``cluster``; AutotuneError if Ray is missing or the
    cluster cannot be reached."""
    try:
        import ray  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise AutotuneError("Ray is not installed: pip install 'autotune[ray]'") from None
    if not ray.is_initialized():
        if cluster.address is None:
            raise AutotuneError("no Ray instance is running in this process: give an address")
        try:
            ray.init(address=cluster.address, log_to_driver=False)
        except Exception as err:  # pylint: disable=broad-except  # ConnectionError and others
            raise AutotuneError(f"cannot connect to the Ray cluster at {cluster.address}: "
                                f"{first_line(err)}") from None
    return ray


def bench_item(item: SuiteItem, suite_name: str, target, budget: Budget,
               search: SearchOptions, baselines: list[str] | None, protocol, seed: Snapshot):
    """The Ray task of one workload (a generator): tune it from ``seed`` (the driver's log
    files), yielding the log's files after every batch, then time it; its last item holds
    the table rows. ``budget``: the driver's (its trials, else the suite's, and its time
    budget, for this workload alone)."""
    from autotune.benchmark.run import competing_baselines, time_suite  # pylint: disable=import-outside-toplevel
    from autotune.hardware.peaks import measure_peaks  # pylint: disable=import-outside-toplevel
    from autotune.hardware.target import (  # pylint: disable=import-outside-toplevel
        resolve_target,
        target_json,
        target_threads,
    )
    from autotune.hardware.threads import set_threads  # pylint: disable=import-outside-toplevel
    from autotune.logs.events import trials_done  # pylint: disable=import-outside-toplevel
    from autotune.logs.store import LogStore  # pylint: disable=import-outside-toplevel
    from autotune.measure.compile import protocol_for  # pylint: disable=import-outside-toplevel
    from autotune.search.tune import tune_budget  # pylint: disable=import-outside-toplevel

    yield {"worker": f"{socket.gethostname()}:{os.getpid()}"}
    scratch = Path(tempfile.mkdtemp(prefix="autotune-ray-"))
    unpack(seed, scratch)
    tgt = resolve_target(target)
    set_threads(target_threads(tgt))
    store = LogStore(scratch)
    wl = item.workload
    tuned = wl.variants(search.variants)
    folders = log_folders(wl, tuned)
    wanted = budget.trials if budget.trials is not None else (item.trials or 0)
    done = sum(trials_done(store.open(v, tgt, create=True).path) for v in tuned)
    if wanted > done:
        failure: list[BaseException] = []

        def run() -> None:
            try:
                tune_budget([wl], tgt, Budget(wanted - done, budget.time_budget, scratch),
                            progress=False, search=search)
            except BaseException as err:  # pylint: disable=broad-except  # re-raised below
                failure.append(err)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        sent: Snapshot = {}
        while thread.is_alive():
            thread.join(POLL_S)
            snapshot = take(scratch, folders)
            if snapshot != sent:
                sent = snapshot
                yield {"snapshot": snapshot}
        if failure:
            raise failure[0]
    competing, skipped = competing_baselines(tgt, baselines)
    rows, curves = time_suite(Suite(suite_name, None, [item]), store, tgt, competing,
                              protocol or protocol_for(tgt), False)
    yield {"snapshot": take(scratch, folders)}
    yield {"rows": rows, "curves": curves, "target": target_json(tgt),
           "threads": target_threads(tgt), "peaks": measure_peaks(tgt),
           "competing": [b.name for b in competing], "skipped": skipped}


def bench_on_ray(suite: Suite, target, budget: Budget, out_dir: Path, cluster: RayCluster, *,
                 baselines: list[str] | None, protocol, progress: bool, command: str | None,
                 search: SearchOptions):
    """``bench`` with every workload a Ray task (see the module's docstring)."""
    from autotune.benchmark.run import BenchResult  # pylint: disable=import-outside-toplevel
    from autotune.hardware.target import (  # pylint: disable=import-outside-toplevel
        resolve_target,
        target_json,
        target_threads,
    )

    ray = connect(cluster)
    # A spec ("cpu") is resolved on each worker, for its own CPU.
    spec = target_json(target) if isinstance(target, tvm.target.Target) else target
    cpus = cluster.cpus_per_task or target_threads(resolve_target(target))
    task = ray.remote(bench_item).options(num_cpus=cpus, max_retries=0)
    log_dir = budget.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    merging = threading.Lock()

    def say(line: str) -> None:  # the driver's news, one line each on stderr
        if progress:
            print(line, file=sys.stderr, flush=True)

    def drive(item: SuiteItem) -> dict:
        folders = log_folders(item.workload, item.workload.variants(search.variants))
        why = ""
        for attempt in range(cluster.retries + 1):
            with merging:
                seed = take(log_dir, folders)
            worker = "a worker"
            try:
                for ref in task.remote(item, suite.name, spec, budget, search, baselines,
                                       protocol, seed):
                    message = ray.get(ref)
                    worker = message.get("worker", worker)
                    if "snapshot" in message:
                        with merging:
                            apply(message["snapshot"], log_dir)
                    if "rows" in message:
                        return {**message, "worker": worker}
            except Exception as err:  # pylint: disable=broad-except  # a worker that died
                why = first_line(err)
                again = attempt < cluster.retries
                say(f"{item.workload.key}: {worker} failed ({why}); "
                    + ("trying again from the records that came back" if again else
                       "its records that came back are kept"))
        return {"failed": why}

    with ThreadPoolExecutor(max_workers=len(suite.items) or 1) as pool:
        outcomes = list(pool.map(drive, suite.items))
    failed = {item.workload.key: o["failed"] for item, o in zip(suite.items, outcomes)
              if "failed" in o}
    results, curves, files, skipped, notes = _tables(
        suite, [o for o in outcomes if "rows" in o], out_dir, command)
    for note in notes:
        say(note)
    if failed:
        raise AutotuneError(
            f"{len(failed)} of {len(suite.items)} workloads did not finish on the cluster "
            f"(first: {next(iter(failed))}: {next(iter(failed.values()))}); the records that "
            f"came back are in {log_dir}; run the same command again to continue")
    return BenchResult(results, curves, files, skipped)


def _tables(suite: Suite, outcomes: list[dict], out_dir: Path, command: str | None):
    """One table per target key the workers tuned for, as ``bench`` writes them."""
    from autotune.baselines import baselines_for  # pylint: disable=import-outside-toplevel
    from autotune.benchmark.table import (  # pylint: disable=import-outside-toplevel
        finish_table,
        write_tables,
    )
    from autotune.hardware.target import target_key  # pylint: disable=import-outside-toplevel

    by_target: dict[str, list[dict]] = {}
    for outcome in outcomes:
        by_target.setdefault(target_key(tvm.target.Target(outcome["target"])), []).append(outcome)
    tables, curve_tables, files, skipped, notes = [], [], [], {}, []
    for key, group in by_target.items():
        first = group[0]
        tgt = tvm.target.Target(first["target"])
        kind = "cpu" if tgt.kind.name == "llvm" else tgt.kind.name
        competing = [b for b in baselines_for(kind) if b.name in first["competing"]]
        rows = [dict(row, worker=o["worker"]) for o in group for row in o["rows"]]
        table = finish_table(pd.DataFrame(rows), suite, tgt, first["threads"], first["peaks"],
                             command, competing)
        curves = [c for o in group for c in o["curves"]]
        curve_table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
        files += write_tables(table, curve_table, Path(out_dir) / key, suite.name)
        tables.append(table)
        curve_tables.append(curve_table)
        for o in group:
            skipped.update(o["skipped"])
    if len(by_target) > 1:
        notes.append("the workers' CPUs differ: " + "; ".join(
            f"{key}: {', '.join(o['rows'][0]['workload'] for o in group)}"
            for key, group in by_target.items()) + " (one table per target key)")
    results = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    curves = pd.concat(curve_tables, ignore_index=True) if curve_tables else pd.DataFrame()
    return results, curves, files, skipped, notes

