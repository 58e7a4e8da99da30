"""The cost model warmed up on earlier logs: what it learns from, and that it ranks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from tvm.s_tir.meta_schedule import TuneContext

import autotune
from autotune.hardware.target import resolve_target
from autotune.logs.store import LogStore
from autotune.search.cost_model import warm_cost_model
from autotune.search.options import SearchOptions


def test_warm_model_learns_every_sampled_record_and_ranks_them(tuned, cpu):
    wl, log_dir, result = tuned
    entry = LogStore(log_dir).open(wl, cpu)
    records = [r for r in entry.database().get_all_tuning_records() if r.run_secs]
    assert len(records) >= 8

    capped = warm_cost_model([entry], cpu, 2, per_log=5)
    assert capped.data_size == 5 and capped.booster is not None
    assert not capped.adaptive_training  # learns from every batch of the search that follows

    # The same log seen seven times: past MetaSchedule's 100 random warm-up predictions.
    model = warm_cost_model([entry] * 7, cpu, 2, total=7 * len(records))
    assert model.data_size == 7 * len(records)
    context = TuneContext(mod=wl.module(), target=cpu, task_name=wl.key)
    candidates = [r.as_measure_candidate() for r in records]
    first, again = model.predict(context, candidates), model.predict(context, candidates)
    np.testing.assert_array_equal(first, again)  # the trained model, not random scores
    # It learned the order of what it saw (a kernel of about a microsecond: noisy labels).
    speed = [1.0 / np.median([float(s) for s in r.run_secs]) for r in records]
    assert np.corrcoef(np.argsort(np.argsort(first)), np.argsort(np.argsort(speed)))[0, 1] > 0


def test_no_measured_records_leaves_the_model_cold(tmp_path, cpu):
    store = LogStore(tmp_path)
    store.open(autotune.Workload("gemm", m=3, n=5, k=7), cpu, create=True)
    model = warm_cost_model(store.entries(cpu), cpu, 2)
    assert model.data_size == 0 and model.booster is None and model.adaptive_training


def test_only_logs_of_the_same_target_are_learned_from(tuned, tmp_path, cpu):
    wl, log_dir, _ = tuned
    other = resolve_target({"kind": "llvm", "mcpu": "x86-64", "num-cores": 2})
    shutil.copytree(log_dir, tmp_path, dirs_exist_ok=True)
    store = LogStore(tmp_path)
    store.open(autotune.Workload("gemm", m=3, n=5, k=7), other, create=True)
    assert [e.workload for e in store.entries(cpu)] == [wl]
    assert store.entries(other)[0].workload.kernel == "gemm"


@pytest.mark.tuning
def test_a_new_workload_starts_from_the_logs_already_there(workers, tuned, tmp_path, cpu, capsys):
    wl, log_dir, result = tuned
    shutil.copytree(log_dir, tmp_path, dirs_exist_ok=True)
    gemm = autotune.Workload("gemm", m=7, n=9, k=5)
    warm = autotune.tune(gemm, cpu, trials=8, workers=workers, log_dir=tmp_path,
                         search=SearchOptions(trials_per_iter=8, seed=0, warm_start=True,
                                              population=64))
    assert warm.validated and warm.trials_run == 8
    assert f"cost model warmed up on {result.records} measured records of 1 logs" in \
        capsys.readouterr().err


def test_cold_model_ranks_once_it_holds_its_warmup(tuned, cpu):
    from tvm.s_tir.meta_schedule.runner import RunnerResult

    from autotune.search.cost_model import cold_cost_model
    from autotune.search.strategy import model_ranks

    wl, log_dir, _ = tuned
    records = [r for r in LogStore(log_dir).open(wl, cpu).database().get_all_tuning_records()
               if r.run_secs]
    context = TuneContext(mod=wl.module(), target=cpu, task_name=wl.key)
    candidates = [r.as_measure_candidate() for r in records]
    results = [RunnerResult(run_secs=r.run_secs, error_msg=None) for r in records]
    model = cold_cost_model(2, warmup=len(records))
    half = len(records) // 2
    model.update(context, candidates[:half], results[:half])
    assert model.predict(context, candidates).tolist() != \
        model.predict(context, candidates).tolist()  # fewer than its warm-up: random scores
    assert not model_ranks(model)
    model.update(context, candidates[half:], results[half:])
    assert model_ranks(model)
    np.testing.assert_array_equal(model.predict(context, candidates),
                                  model.predict(context, candidates))  # trained: deterministic
