"""Schedules carried over between workloads of one template: tiles fitted, the rest replayed."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace

import pytest
import tvm
from conftest import TINY_CONV
from tvm.s_tir import meta_schedule as ms
from tvm_ffi import structural_hash

import autotune
from autotune.logs.routed import RoutedDatabase
from autotune.logs.store import LogStore
from autotune.measure.compile import check_numerics, compile_module, scheduled_module
from autotune.search.intrinsics import load_tensor_intrinsics
from autotune.search.options import PACKAGED_SEEDS, SearchOptions
from autotune.search.transfer import (
    SiblingDonors,
    donor_traces,
    fit_tiles,
    packaged_logs,
    target_annotations,
    transfer,
)
from autotune.search.tune import _seeds

# Another shape of the conftest's tiny conv: other extents everywhere, same loop nest.
OTHER_CONV = dict(n=1, c=6, h=13, w=10, k=9, kh=3, kw=2, stride=2, padding=1, groups=1)


@pytest.mark.parametrize("extent", [1, 7, 12, 53, 64, 96, 210])
@pytest.mark.parametrize("donor", [[1, 1, 1, 1], [2, 4, 2, 8], [64, 1], [1, 3, 5], [8, 1, 1, 16]])
def test_fitted_tiles_multiply_to_the_extent(extent, donor):
    tiles = fit_tiles(extent, donor, max_innermost=16)
    assert len(tiles) == len(donor) and math.prod(tiles) == extent
    assert tiles[-1] <= 16


def test_tiles_that_fit_stay_and_others_move_to_the_nearest_divisor():
    assert fit_tiles(128, [2, 4, 2, 8], 64) == [2, 4, 2, 8]
    assert fit_tiles(48, [1, 4, 2, 8], 16) == [1, 3, 2, 8]  # 48 = 3 * 2 * 8: 3 is nearest 4
    assert fit_tiles(53, [1, 1, 1, 8], 16) == [53, 1, 1, 1]  # a prime over the innermost limit
    assert fit_tiles(53, [1, 1, 1, 8]) == [1, 1, 1, 53]  # no limit: 53 is as near 8 as 1 is


def _context(wl, target):
    load_tensor_intrinsics(target)
    return ms.TuneContext(mod=wl.module(), target=target, space_generator="post-order-apply",
                          search_strategy="evolutionary", task_name=wl.key)


def _decisions(trace, kind):
    return [trace.get_decision(inst) for inst in trace.insts if inst.kind.name == kind]


def test_a_trace_replays_on_another_shape_and_computes_its_result(cpu):
    donor = autotune.Workload("conv2d", **TINY_CONV)
    other = autotune.Workload("conv2d", **OTHER_CONV)
    ctx = _context(donor, cpu)
    postprocs = _context(other, cpu).space_generator.postprocs
    spaces = ctx.space_generator.generate_design_space(donor.module())
    assert spaces
    for space in spaces:
        sch = transfer(space.trace, other.module(), postprocs)
        assert sch is not None
        assert check_numerics(compile_module(sch.mod, cpu), other, cpu) is None
        # Tile sizes are refitted; unrolling and the like replay as decided.
        assert [int(d) for d in _decisions(sch.trace, "SampleCategorical")] == \
            [int(d) for d in _decisions(space.trace, "SampleCategorical")]


def test_a_trace_of_another_template_does_not_apply(cpu):
    gemm = autotune.Workload("gemm", m=8, n=8, k=8)
    conv = autotune.Workload("conv2d", **OTHER_CONV)
    (space, *_) = _context(gemm, cpu).space_generator.generate_design_space(gemm.module())
    postprocs = _context(conv, cpu).space_generator.postprocs
    assert transfer(space.trace, conv.module(), postprocs) is None


def _first_carried(traces, wl, target, count: int = 4) -> set[int]:
    """The first ``count`` of ``traces`` that apply to ``wl``, without repeats: the seeds a
    batch of ``2 * count`` starts with."""
    generator = _context(wl, target).space_generator
    values = target_annotations(generator.generate_design_space(wl.module()))
    carried = []
    for trace in traces:
        sch = transfer(trace, wl.module(), generator.postprocs, values)
        if sch is not None and structural_hash(sch.mod) not in carried:
            carried.append(structural_hash(sch.mod))
    assert len(carried) >= count
    return set(carried[:count])


def _record_modules(log_dir, wl, target) -> set[int]:
    db = LogStore(log_dir).open(wl, target).database()
    records = db.get_all_tuning_records()
    return {structural_hash(scheduled_module(wl, r)) for r in records}


@pytest.mark.tuning
def test_a_new_log_starts_from_a_similar_workloads_best(workers, tmp_path, tuned, cpu):
    donor, log_dir, _ = tuned
    for arm in ("with", "without"):
        shutil.copytree(LogStore(log_dir).path(donor, cpu),
                        LogStore(tmp_path / arm).path(donor, cpu))
    store = LogStore(tmp_path / "with")
    other = autotune.Workload("conv2d", **OTHER_CONV)
    traces = donor_traces(other, store.entries(cpu))
    assert 0 < len(traces) <= 16
    expected = _first_carried(traces, other, cpu)

    # this target's logs alone
    alone = SearchOptions(trials_per_iter=8, seed=0, seed_logs=None, population=64,
                          variants="none")
    result = autotune.tune(other, cpu, trials=8, log_dir=store.root, progress=False,
                           workers=workers,
                           search=alone)
    assert result.validated and result.trials_run == 8
    assert expected <= _record_modules(store.root, other, cpu)
    # A log with records starts from them, even one with no events (merged from elsewhere).
    (store.path(other, cpu) / "events.jsonl").unlink()
    fresh = store.open(autotune.Workload("conv2d", **{**OTHER_CONV, "c": 7}), cpu, create=True)
    assert [len(s) for s in _seeds(store, cpu, [store.open(other, cpu), fresh], alone, False)] == \
        [0, len(donor_traces(fresh.workload, store.entries(cpu)))]
    assert len(donor_traces(fresh.workload, store.entries(cpu))) > 0

    autotune.tune(other, cpu, trials=8, log_dir=tmp_path / "without", progress=False,
                  workers=workers,
                  search=replace(alone, transfer=False))
    assert not expected <= _record_modules(tmp_path / "without", other, cpu)


def test_packaged_seeds_are_right_and_replay_on_new_shapes(cpu):
    logs = packaged_logs(cpu, PACKAGED_SEEDS)
    kinds = {e.workload.kernel for e in logs}
    assert kinds == {"conv2d", "conv2d_nchwc", "conv2d_nhwc", "conv2d_dw_nchwc"}
    assert all(sum(e.workload.kernel == k for e in logs) >= 2 for k in kinds)
    assert packaged_logs(tvm.target.Target("cuda"), PACKAGED_SEEDS) == []  # none of another target kind
    for entry in logs:
        verdicts = entry.verdicts()
        assert len(verdicts) == len(entry.database().get_all_tuning_records()) == 16
        assert all(v["ok"] for v in verdicts.values())
        # A shape never starts from its own packaged schedules, only from the others'.
        assert len(donor_traces(entry.workload, [], logs)) == 16
        assert donor_traces(entry.workload, [], [entry]) == []
    depthwise = dict(OTHER_CONV, k=OTHER_CONV["c"], groups=OTHER_CONV["c"])
    for kernel, params in [("conv2d", OTHER_CONV), ("conv2d_nchwc", OTHER_CONV),
                           ("conv2d_nhwc", OTHER_CONV), ("conv2d_dw_nchwc", depthwise)]:
        wl = autotune.Workload(kernel, **params)
        postprocs = _context(wl, cpu).space_generator.postprocs
        for trace in donor_traces(wl, [], logs)[:2]:
            sch = transfer(trace, wl.module(), postprocs)
            assert sch is not None, kernel
            assert check_numerics(compile_module(sch.mod, cpu), wl, cpu) is None


def _annotation(trace, key: str) -> int:
    (value,) = [int(inst.inputs[1]) for inst in trace.insts
                if inst.kind.name == "Annotate" and str(inst.attrs[0]) == key]
    return value


def test_a_seed_takes_the_new_targets_parallel_limit(cpu):
    """Seeds made on 2 cores may parallelise as far as a target with more cores allows."""
    wide = tvm.target.Target({**dict(cpu.export()), "num-cores": 8})
    wl = autotune.Workload("conv2d", **OTHER_CONV)
    generator = _context(wl, wide).space_generator
    values = target_annotations(generator.generate_design_space(wl.module()))
    assert int(values["meta_schedule.parallel"]) == 8 * 16  # MetaSchedule's 16 jobs a core
    trace = donor_traces(wl, [], packaged_logs(cpu, PACKAGED_SEEDS))[0]
    assert _annotation(trace, "meta_schedule.parallel") == 2 * 16  # the seeds' machine
    sch = transfer(trace, wl.module(), generator.postprocs, values)
    assert _annotation(sch.trace, "meta_schedule.parallel") == 8 * 16
    assert _annotation(sch.trace, "meta_schedule.vectorize") == \
        int(values["meta_schedule.vectorize"])
    assert check_numerics(compile_module(sch.mod, wide), wl, wide) is None
    # Without the new values the seed keeps its own machine's limit.
    kept = transfer(trace, wl.module(), generator.postprocs)
    assert _annotation(kept.trace, "meta_schedule.parallel") == 2 * 16


@pytest.mark.tuning
def test_a_first_search_starts_from_the_packaged_seeds(workers, tmp_path, cpu):
    wl = autotune.Workload("conv2d", **OTHER_CONV)
    expected = _first_carried(donor_traces(wl, [], packaged_logs(cpu, PACKAGED_SEEDS)), wl, cpu)
    autotune.tune(wl, cpu, trials=8, log_dir=tmp_path / "packaged", progress=False, workers=workers,
                  search=SearchOptions(trials_per_iter=8, seed=0, population=64, variants="none"))
    assert expected <= _record_modules(tmp_path / "packaged", wl, cpu)
    autotune.tune(wl, cpu, trials=8, log_dir=tmp_path / "none", progress=False, workers=workers,
                  search=SearchOptions(trials_per_iter=8, seed=0, seed_logs=None, population=64,
                                       variants="none"))
    assert not expected <= _record_modules(tmp_path / "none", wl, cpu)


@pytest.mark.tuning
def test_a_new_workload_tunes_from_a_vectorised_donor(workers, tmp_path, cpu):
    """Replaying a donor's fused, vectorised schedule once rewrote the new task's own module,
    so its records were filed under no log (KeyError from the routed database)."""
    options = SearchOptions(trials_per_iter=2, seed=0, population=64)
    autotune.tune(autotune.Workload("add", n=4096), cpu, trials=2, log_dir=tmp_path,
                  progress=False, workers=workers, search=options)
    result = autotune.tune(autotune.Workload("add", n=1_000_003), cpu, trials=2,
                           log_dir=tmp_path, progress=False, workers=workers, search=options)
    # A vector add's space is small: the search may find one new candidate, not two.
    assert result.validated and 1 <= result.trials_run <= 2 and result.records >= 1


@pytest.mark.tuning
def test_a_runs_tasks_hand_their_new_bests_to_similar_tasks(tmp_path, tuned, cpu):
    donor, log_dir, _ = tuned
    shutil.copytree(LogStore(log_dir).path(donor, cpu), LogStore(tmp_path).path(donor, cpu))
    store = LogStore(tmp_path)
    other = autotune.Workload("conv2d", **OTHER_CONV)
    gemm = autotune.Workload("gemm", m=8, n=8, k=8)
    workloads = [donor, other, gemm]
    routes = RoutedDatabase([store.open(wl, cpu, create=True) for wl in workloads]).routes
    siblings = SiblingDonors(workloads, routes, per_donor=2)
    mod, db = routes[0]
    top = db.get_top_k(db.commit_workload(mod), 3)
    assert len(top) == 3
    assert [str(t) for t in siblings.fresh(1)] == [str(r.trace) for r in top[:2]]
    assert siblings.fresh(1) == []  # nothing new since
    assert siblings.fresh(2) == []  # another template's schedules are not handed over
    assert siblings.fresh(0) == []  # the conv of the other shape has found nothing yet

    # The donor finds a schedule faster than all it had: the similar task gets it next.
    faster = ms.database.TuningRecord(top[2].trace, top[2].workload, [1e-9], cpu,
                                      top[2].args_info)
    db.commit_tuning_record(faster)
    assert [str(t) for t in siblings.fresh(1)] == [str(top[2].trace)]
