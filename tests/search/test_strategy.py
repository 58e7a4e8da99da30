"""The search skips MetaSchedule's genetic iterations only while the cost model is cold."""

from __future__ import annotations

import re

import pytest

import autotune
from autotune.logs.store import LogStore
from autotune.search.options import SearchOptions
from autotune.search.strategy import model_ranks


def test_a_model_that_says_nothing_of_its_warmup_is_taken_to_rank():
    assert model_ranks(object())


@pytest.mark.tuning
def test_first_batch_is_sampled_and_later_ones_evolve(workers, tmp_path, cpu):
    wl = autotune.Workload("gemm", m=7, n=9, k=5)
    result = autotune.tune(wl, cpu, trials=16, log_dir=tmp_path, progress=False, workers=workers,
                           search=SearchOptions(trials_per_iter=8, seed=0, model_warmup=8,
                                                population=64))
    assert result.validated and result.trials_run == 16
    (task_log,) = (LogStore(tmp_path).open(wl, cpu).path / "logs").glob("*task_0*.log")
    batches = re.split(r"Generating candidates", task_log.read_text())[1:]
    assert len(batches) == 2
    assert "Evolve iter" not in batches[0]  # cold model: random scores, nothing to evolve by
    assert "Evolve iter #3 done" in batches[1]  # 8 measurements: it ranks, so it evolves


def test_the_population_follows_the_batch_unless_given():
    assert SearchOptions().population_for(64) == 512  # MetaSchedule's for its batches of 64
    assert SearchOptions().population_for(16) == 128  # a model's kernels sharing a budget
    assert SearchOptions().population_for(1) == 128
    assert SearchOptions().population_for(200) == 512
    assert SearchOptions(population=64).population_for(16) == 64
    with pytest.raises(autotune.AutotuneError, match="population must be >= 2"):
        SearchOptions(population=1)


def test_the_variant_policy_is_a_name_or_a_bool():
    assert SearchOptions().variants == "auto"
    assert SearchOptions(variants=True) == SearchOptions(variants="all")
    assert SearchOptions(variants=False) == SearchOptions(variants="none")
    assert SearchOptions(variants="auto").variants == "auto"
    with pytest.raises(autotune.AutotuneError, match="unknown variant policy 'best'"):
        SearchOptions(variants="best")
