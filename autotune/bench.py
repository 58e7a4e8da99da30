"""Run a suite: tune (or reuse logs), then time tuned, untuned and every baseline alike.

Writes one tidy table, one row per workload x implementation, as CSV and Parquet, and the
tuning curves of every workload, under ``OUT/<target key>/``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import tvm
from tqdm.auto import tqdm

from .baselines import Baseline, baselines_for
from .build import protocol_for
from .compare import add_rates, compare_workload
from .events import trials_done, tuning_curve
from .logs import LogStore
from .measure import Protocol
from .options import SearchOptions
from .isa_peak import isa_peak
from .peak import Peaks, measure_peaks
from .suite import Suite, load_suite
from .target import device_for, resolve_target, target_json, target_key, target_threads
from .threads import set_threads
from .tuning import DEFAULT_LOG_DIR, tune, tune_many

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
    """
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    tgt = resolve_target(target)
    device_for(tgt)
    protocol = protocol or protocol_for(tgt)
    kind = "cpu" if tgt.kind.name == "llvm" else tgt.kind.name
    competing, skipped = [], {}
    for baseline in baselines_for(kind, baselines):
        reason = baseline.unavailable()  # imports the library, before threads are set
        if reason:
            skipped[baseline.name] = reason
            log.warning("baseline %s skipped: %s", baseline.name, reason)
        else:
            competing.append(baseline)
    threads = target_threads(tgt)
    set_threads(threads)

    store = LogStore(log_dir)
    missing = {}
    for item in suite.items:
        budget = trials if trials is not None else (item.trials or 0)
        tuned = item.workload.variants() if search.variants else [item.workload]
        done = sum(trials_done(store.open(v, tgt, create=True).path) for v in tuned)
        if budget > done:
            missing[item.workload] = budget - done
    if missing and time_budget is not None:  # one budget, shared by the task scheduler
        tune_many(list(missing), tgt, trials=sum(missing.values()), log_dir=log_dir,
                  time_budget=time_budget, progress=progress, search=search)
    else:
        for workload, count in missing.items():
            tune(workload, tgt, trials=count, log_dir=log_dir, progress=progress, search=search)

    peaks = measure_peaks(tgt)
    rows: list[dict] = []
    curves: list[pd.DataFrame] = []
    for item in tqdm(suite.items, desc="timing", unit="workload", disable=not progress):
        wl = item.workload
        logged = {v.key: tuning_curve(store.path(v, tgt), wl.flops) for v in wl.variants()
                  if store.path(v, tgt).exists()}
        logged = {key: curve for key, curve in logged.items() if len(curve)}
        for row in compare_workload(wl, store, tgt, competing, protocol):
            tuned = row["implementation"] == "tvm-tuned" and bool(logged)
            row["trials"] = sum(int(c["trial"].max()) for c in logged.values()) if tuned else 0
            row["tuning_s"] = sum(float(c["elapsed_s"].max()) for c in logged.values()) if tuned else 0.0
            if tuned and row["variant"] in logged:  # the curve of the kernel that won
                curves.append(logged[row["variant"]].assign(workload=wl.key))
            rows.append(row)

    results = _finish(pd.DataFrame(rows), suite, tgt, threads, peaks, command, competing)
    curve_table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    out = Path(out_dir) / target_key(tgt)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{suite.name}.csv", out / f"{suite.name}.parquet", out / f"{suite.name}-curves.csv"]
    results.to_csv(files[0], index=False)
    results.to_parquet(files[1], index=False)
    curve_table.to_csv(files[2], index=False)
    return BenchResult(results, curve_table, files, skipped)


def load_results(paths: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results tables (CSV or Parquet) written by ``bench``, with their curve files, joined."""
    tables, curves = [], []
    for path in map(Path, paths):
        reader = pd.read_parquet if path.suffix == ".parquet" else pd.read_csv
        table = reader(path)
        for column in ("error", "variant", "timed"):  # CSV gives NaN for the empty strings
            if column in table:
                table[column] = table[column].fillna("")
        tables.append(table)
        curve_file = path.with_name(f"{path.stem}-curves.csv")
        if curve_file.exists() and curve_file.stat().st_size > 1:
            curves.append(pd.read_csv(curve_file))
    return (pd.concat(tables, ignore_index=True),
            pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


def _finish(frame: pd.DataFrame, suite: Suite, tgt, threads: int, peaks: Peaks | None,
            command: str | None, competing: list[Baseline]) -> pd.DataFrame:
    frame.insert(0, "suite", suite.name)
    add_rates(frame, [b.name for b in competing])
    if peaks:
        frame["roofline_gflops"] = [peaks.bound(x) for x in frame["intensity"]]
        frame["roofline_fraction"] = frame["gflops"] / frame["roofline_gflops"]
        frame["peak_fraction"] = frame["gflops"] / peaks.gflops
        frame["bandwidth_fraction"] = frame["gbps"] / peaks.gbps
    else:
        frame["roofline_gflops"] = frame["roofline_fraction"] = np.nan
        frame["peak_fraction"] = frame["bandwidth_fraction"] = np.nan
    isa = isa_peak(tgt)
    frame["isa_peak_gflops"] = isa.gflops if isa else np.nan
    frame["isa_peak_fraction"] = frame["gflops"] / isa.gflops if isa else np.nan
    frame["isa_peak_source"] = isa.describe() if isa else ""
    frame["tvm_version"] = tvm.__version__
    frame["target"] = target_key(tgt)
    frame["target_json"] = json.dumps(target_json(tgt), sort_keys=True)
    frame["host"] = host_description(tgt)
    frame["threads"] = threads
    frame["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    frame["peak_gflops"] = peaks.gflops if peaks else np.nan
    frame["peak_gbps"] = peaks.gbps if peaks else np.nan
    frame["peak_source"] = (f"{peaks.sgemm_n}^3 SGEMM via {peaks.sgemm_library}; STREAM "
                            f"copy/triad on {peaks.stream_bytes >> 20} MiB arrays") if peaks else ""
    frame["command"] = command or f"autotune.bench({suite.name!r}, target={target_key(tgt)!r})"
    return frame


def host_description(target: tvm.target.Target | None = None) -> str:
    """CPU model and core counts, e.g. ``AMD EPYC 9B45, 2 cores / 2 threads``; for a GPU
    target, the GPU first (``NVIDIA H100 80GB HBM3 (sm_90) on ...``)."""
    if target is not None and target.kind.name != "llvm":
        dev = device_for(target)
        return f"{dev.device_name} (sm_{dev.compute_version.replace('.', '')}) on {host_description()}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {psutil.cpu_count(logical=False)} cores / "
            f"{psutil.cpu_count(logical=True)} threads")
