"""Trials per minute through a TVM RPC tracker on this machine (loopback): one server, two
servers, two with one killed at half time, and local measurement as the reference.


Every run tunes the same workload from an empty log with the same seed and budget, for the
remote CPU's target (its servers run one thread each, ``TVM_NUM_THREADS=1``), so the runs
differ only in where candidates are measured. Each candidate is measured as TVM's CPU
tutorials do (``min_repeat_ms=300``: 3 samples of at least 0.3 s), so that measuring one
takes about as long whatever schedule the search happened to sample, and takes longer than
building it: a measurement-bound search. ``trials_per_min`` counts the search alone
(from its first batch to its last record). Beside them, the time RPC adds per candidate:
one batch of identical small kernels, built once, measured by the local runner and by one
server (``overhead.csv`` rows: seconds per candidate, their difference).

Writes ``rpc-scaling.csv``/``.md`` under ``results/<target key>/``:

    python scripts/bench_rpc.py [--trials 96] [--size 256] [--min-repeat-ms 300] [--out results]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
from bench_output import fenced, write_results

import autotune
from autotune.hardware.target import resolve_target, target_key
from autotune.logs.events import read_events
from autotune.logs.store import LogStore, record_seconds
from autotune.measure.protocol import Protocol
from autotune.remote.loopback import LoopbackFleet
from autotune.search.workers import Workers

FAILED_S = 1e9  # MetaSchedule's run time for a candidate that could not be measured


def tune_once(suite: list, target, trials: int, search, workers, kill=None) -> dict:
    """Tune ``suite`` (workloads sharing ``trials``) from empty logs: its trials, records
    and their rates."""
    with tempfile.TemporaryDirectory() as logs:
        if kill is not None:
            kill(Path(logs))
        started = time.perf_counter()
        results = autotune.tune_many(suite, target, trials=trials, log_dir=logs,
                                     progress=False, search=search, workers=workers)
        wall = time.perf_counter() - started
        entries = LogStore(logs).entries()
        records = [r for e in entries for r in e.database().get_all_tuning_records()]
        commits = sorted(e["elapsed_s"] for entry in entries for e in read_events(entry.path)
                         if e.get("event") == "trial")
    measured = sum(record_seconds(r) < FAILED_S for r in records)
    ran, seconds = sum(r.trials_run for r in results), results[0].seconds
    first = commits.count(commits[0])  # the trials of the first batch(es) committed
    return {"trials": ran, "records": len(records), "measured": measured,
            "search_s": seconds, "wall_s": wall, "trials_per_min": 60 * ran / seconds,
            # after the first batch: the workers are started, the rate a long run keeps
            "steady_trials_per_min": 60 * (ran - first) / (commits[-1] - commits[0]),
            "validated": all(r.validated for r in results)}


def per_candidate(runner, artifacts: list, args_info) -> float:
    """Seconds per candidate for ``runner`` to measure the built ``artifacts``."""
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    inputs = [RunnerInput(path, "cpu", args_info) for path in artifacts]
    started = time.perf_counter()
    results = [future.result() for future in runner.run(inputs)]
    assert all(r.error_msg is None for r in results), results[0].error_msg
    return (time.perf_counter() - started) / len(inputs)


def rpc_overhead(target, count: int = 32) -> dict:
    """Seconds per candidate measured here and on one loopback server (one small GEMM
    kernel, built once, measured ``count`` times by each)."""
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.builder import BuilderInput

    mod = autotune.Workload("gemm", m=16, n=16, k=16).module(target)
    with Workers() as local:
        built = local.builder.build([BuilderInput(mod, target) for _ in range(count)])
        artifacts = [b.artifact_path for b in built]
        args_info = ArgInfo.from_prim_func(mod["main"])
        per_candidate(local.runner_for(target), artifacts[:2], args_info)  # workers warm
        here = per_candidate(local.runner_for(target), artifacts, args_info)
        with LoopbackFleet(servers=1) as fleet, Workers(fleet.remote) as remote:
            per_candidate(remote.runner_for(target), artifacts[:2], args_info)
            there = per_candidate(remote.runner_for(target), artifacts, args_info)
    return {"local_s": here, "rpc_s": there, "rpc_overhead_s": there - here}


def killer(fleet: LoopbackFleet, after_s: float):
    """Kill server 0 ``after_s`` seconds after the run starts."""

    def arm(_log_dir: Path) -> None:
        threading.Timer(after_s, fleet.kill_server, args=(0,)).start()

    return arm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=96)
    parser.add_argument("--batch", type=int, default=16, help="candidates per batch")
    parser.add_argument("--size", type=int, default=256, help="M = N = K of the GEMM tuned")
    parser.add_argument("--min-repeat-ms", type=int, default=300,
                        help="the least length of each of a candidate's 3 samples")
    parser.add_argument("--out", type=Path, default=Path("results"))
    args = parser.parse_args()
    suite = [autotune.Workload("gemm", m=args.size, n=args.size, k=args.size),
             autotune.Workload("gemm", m=args.size, n=args.size, k=args.size * 3 // 4)]
    search = autotune.SearchOptions(trials_per_iter=args.batch, seed=7)
    protocol = Protocol(min_sample_s=args.min_repeat_ms / 1000)
    rows = []
    with LoopbackFleet(servers=1) as fleet:
        target = resolve_target(fleet.remote.target())
    with Workers(protocol=protocol) as local:
        rows.append({"measured_on": "local (this process's runner)",
                     **tune_once(suite, target, args.trials, search, local)})
    for servers in (1, 2):
        with LoopbackFleet(servers=servers) as fleet, \
                Workers(fleet.remote, protocol) as workers:
            rows.append({"measured_on": f"rpc, {servers} server(s)",
                         **tune_once(suite, target, args.trials, search, workers)})
    half = rows[-1]["wall_s"] / 2  # half the time the two servers took
    with LoopbackFleet(servers=2) as fleet, Workers(fleet.remote, protocol) as workers:
        rows.append({"measured_on": f"rpc, 2 servers, one killed after {half:.0f} s",
                     **tune_once(suite, target, args.trials, search, workers,
                                 kill=killer(fleet, half))})
    runs = pd.DataFrame(rows)
    overhead = pd.DataFrame([rpc_overhead(target)])
    two = runs["trials_per_min"].iloc[2] / runs["trials_per_min"].iloc[1]
    steady = runs["steady_trials_per_min"].iloc[2] / runs["steady_trials_per_min"].iloc[1]
    write_results(
        args.out / target_key(resolve_target("cpu")), "rpc-scaling", runs,
        "Remote measurement through a TVM RPC tracker (loopback)",
        f"A suite of two GEMMs ({', '.join(wl.key for wl in suite)}) sharing {args.trials} "
        f"trials (MetaSchedule's task scheduler overlaps one task's measurement with the "
        f"other's search and build), from empty logs in each run, batches of {args.batch}, "
        f"samples of at least {args.min_repeat_ms} ms, seed 7, target {target_key(target)} (servers with one thread each). Two servers "
        f"measured {two:.2f}x the trials per minute of one ({steady:.2f}x after the first "
        f"batches, once every worker has started). RPC added "
        f"{overhead['rpc_overhead_s'].iloc[0] * 1e3:.0f} ms per candidate (a 16^3 GEMM "
        f"measured by one server against the local runner, 32 candidates each).",
        [fenced(runs), "Per candidate, measured here and through one server:", "",
         fenced(overhead)])


if __name__ == "__main__":
    main()
