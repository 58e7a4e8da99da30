"""A task's design spaces: MetaSchedule's generic ones plus its template's sketches."""

from __future__ import annotations

import pytest
from tvm.s_tir import meta_schedule as ms

import autotune
from autotune.logs.store import LogStore
from autotune.search.space import space_generator
from autotune.workload import Workload

BLOCKED = Workload("conv2d_nchwc", c=6, h=9, w=13, k=20, kh=3, kw=3, padding=1)


def _spaces(workload, target, generator):
    return ms.TuneContext(mod=workload.module(target), target=target, space_generator=generator,
                          task_name="space").generate_design_space()


def test_a_sketched_template_is_searched_in_both(cpu):
    generic = _spaces(BLOCKED, cpu, "post-order-apply")
    sketches = BLOCKED.template.sketches(BLOCKED.params, cpu)
    spaces = _spaces(BLOCKED, cpu, space_generator(BLOCKED, cpu))
    assert len(spaces) == len(generic) + len(sketches)
    unrolled = [s for s in spaces if any(i.kind.name == "Unroll" for i in s.trace.insts)]
    assert len(unrolled) == len(sketches)  # the sketches unroll their register tile


def test_templates_without_sketches_keep_the_generic_generator(cpu):
    assert space_generator(Workload("gemm", m=8, n=9, k=10), cpu) == "post-order-apply"


@pytest.mark.tuning
def test_a_search_measures_and_logs_sketched_schedules(cpu, tmp_path, workers):
    result = autotune.tune(BLOCKED, cpu, trials=16, log_dir=tmp_path, progress=False,
                           workers=workers, search=autotune.SearchOptions(
                               trials_per_iter=16, seed=0, population=64, transfer=False))
    assert result.validated
    entry = LogStore(tmp_path).open(BLOCKED, cpu)
    records = entry.database().get_all_tuning_records()
    sketched = [r for r in records if any(i.kind.name == "Unroll" for i in r.trace.insts)]
    assert sketched and all(r.run_secs for r in sketched)
