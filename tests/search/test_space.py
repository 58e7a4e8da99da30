"""A task's design spaces: MetaSchedule's generic ones plus its template's sketches."""

from __future__ import annotations

import pytest
import tvm
from tvm.s_tir import meta_schedule as ms

import autotune
from autotune.logs.store import LogStore
from autotune.measure.compile import check_numerics, compile_module, scheduled_module
from autotune.search.postprocs import InlineCopies
from autotune.search.space import space_generator
from autotune.workload import Workload
from autotune.workload.template import block_names

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


POINTWISE = {"c": 8, "h": 5, "w": 7, "k": 20, "kh": 1, "kw": 1, "epilogue": "bias+relu6"}


def _postprocessed(workload, target, spaces_from="ours"):
    """The generic design spaces of ``workload`` (its own generator's, or those of plain
    ``post-order-apply``, as records made before InlineCopies and seeds were), each through
    the postprocessors the search applies to every candidate."""
    ctx = ms.TuneContext(mod=workload.module(target), target=target, task_name="space",
                         space_generator=space_generator(workload, target))
    generic = _spaces(workload, target, "post-order-apply") if spaces_from == "plain" else \
        ctx.generate_design_space()[:len(_spaces(workload, target, "post-order-apply"))]
    for space in generic:
        assert all(p.apply(space) for p in ctx.space_generator.postprocs)
    return generic


@pytest.mark.parametrize("kernel", ["conv2d_nchwc", "conv2d_pw_nchw", "conv2d"])
@pytest.mark.parametrize("spaces_from", ["ours", "plain"])
def test_candidates_fold_copy_passes(cpu, kernel, spaces_from):
    """A padding that pads nothing is read through, and an epilogue after a copy-out is
    computed in it, whichever space the schedule came from; each computes what the template
    does. (NCHW's conv writes its result itself; MultiLevelTiling fuses the epilogue.)"""
    wl = Workload(kernel, **POINTWISE)
    assert "epilogue" in block_names(wl.prim_func())
    for sch in _postprocessed(wl, cpu, spaces_from):
        names = block_names(sch.mod["main"])
        assert "pad" not in names
        # no epilogue pass after a copy-out: the copy computes it (or is inlined into it)
        assert not {"epilogue", "unpack"} <= names and not {"epilogue", "unflatten"} <= names
        assert check_numerics(compile_module(sch.mod, cpu), wl, cpu) is None


def test_a_padding_that_pads_is_left_to_the_search(cpu):
    wl = Workload("conv2d_nchwc", **{**POINTWISE, "kh": 3, "kw": 3, "padding": 1})
    template = tvm.s_tir.Schedule(wl.module(cpu))
    assert InlineCopies().apply(template)
    assert "pad" in block_names(template.mod["main"])
    assert "epilogue" not in block_names(template.mod["main"])
    for sch in _postprocessed(wl, cpu):
        assert not {"epilogue", "unpack"} <= block_names(sch.mod["main"])
        assert check_numerics(compile_module(sch.mod, cpu), wl, cpu) is None


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


@pytest.mark.tuning
def test_a_search_logs_only_folded_schedules(cpu, tmp_path, workers):
    wl = Workload("conv2d_nchwc", **{**POINTWISE, "epilogue": "bias"})
    autotune.tune(wl, cpu, trials=8, log_dir=tmp_path, progress=False, workers=workers,
                  search=autotune.SearchOptions(trials_per_iter=8, seed=0, population=32,
                                                transfer=False))
    records = LogStore(tmp_path).open(wl, cpu).database().get_all_tuning_records()
    assert records
    for record in records:
        names = block_names(scheduled_module(wl, record)["main"])
        assert "pad" not in names and not {"epilogue", "unpack"} <= names
