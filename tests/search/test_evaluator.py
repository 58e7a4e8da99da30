"""The local CPU runner times candidates as ``measure`` does: input sets that overflow the
cache, rotating, allocated once per workload."""

from __future__ import annotations

import tvm
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.builder import BuilderInput
from tvm.s_tir.meta_schedule.runner import RunnerInput

from autotune.measure.protocol import Protocol
from autotune.search import evaluator
from autotune.search.evaluator import args_key, rotating_sets, time_rotating
from autotune.workload import Workload

ARGS = (("TENSOR", "float32", [1000]), ("TENSOR", "float32", [1000]), ("TENSOR", "float32", [1000]))


class _Module:
    """A runtime module whose entry records the tensors it is called with."""

    entry_name = "main"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __getitem__(self, name: str):
        assert name == "main"
        return lambda *args: self.seen.append(id(args[0]))


def test_sets_reach_the_flush_size_and_are_reused_per_workload():
    protocol = Protocol(flush_bytes=12_000 * 5 - 1, max_sets=64)  # 12 kB a set: 5 sets
    dev = tvm.cpu()
    sets = rotating_sets(protocol, {}, dev, ARGS, 1)
    assert len(sets) == 5 and all(len(s) == 3 for s in sets)
    assert sets[0][0].shape == (1000,) and str(sets[0][0].dtype) == "float32"
    assert sets[0][0].numpy().any()  # filled, as MetaSchedule fills its arguments
    assert rotating_sets(protocol, {}, dev, ARGS, 1) is sets  # the next candidate reuses them
    other = (("TENSOR", "float32", [10]),)
    assert len(rotating_sets(protocol, {}, dev, other, 1)) == 64  # capped at max_sets
    assert rotating_sets(protocol, {}, dev, ARGS, 1) is not sets  # one workload kept at a time
    evaluator._sets.clear()


def test_weights_are_one_tensor_in_every_set(workers, cpu):
    protocol = Protocol(flush_bytes=12_000 * 3, max_sets=64)
    weights = {args_key(ARGS): (1,)}
    sets = rotating_sets(protocol, weights, tvm.cpu(), ARGS, 1)
    assert len(sets) == 3  # every argument counts towards the sets, as in Protocol.sets_for
    assert len({id(s[1]) for s in sets}) == 1 and len({id(s[0]) for s in sets}) == 3
    assert rotating_sets(protocol, {}, tvm.cpu(), ARGS, 1)[1][1] is not sets[0][1]
    evaluator._sets.clear()
    conv = Workload("conv2d", c=8, h=6, w=6, k=4, kh=3, kw=3, epilogue="bias")
    workers.share_weights([conv, Workload("add", n=64)], cpu)
    args = ArgInfo.from_prim_func(conv.module(cpu)["main"])
    assert workers.weights[args_key([a.as_json() for a in args])] == (1, 2)  # filter, bias


def test_every_sample_rotates_through_every_set():
    protocol = Protocol(repeat=25, tuning_repeat=2, min_sample_s=0.001, flush_bytes=12_000 * 4)
    sets = rotating_sets(protocol, {}, tvm.cpu(), ARGS, 1)
    module = _Module()
    costs = time_rotating(protocol, module, tvm.cpu(), None, sets)
    assert len(costs) == 1 and costs[0] > 0
    counts = {id(s[0]): module.seen.count(id(s[0])) for s in sets}
    assert len(counts) == 4 and min(counts.values()) > 1
    assert max(counts.values()) - min(counts.values()) <= 1  # each set equally often
    evaluator._sets.clear()


def test_the_workers_runner_measures_a_real_candidate(workers, cpu):
    wl = Workload("add", n=4096)
    mod = wl.module(cpu)
    (built,) = workers.builder.build([BuilderInput(mod, cpu)])
    assert built.error_msg is None
    runner = workers.runner_for(cpu)
    assert runner.f_run_evaluator.func is time_rotating
    args = ArgInfo.from_prim_func(mod["main"])
    (future,) = runner.run([RunnerInput(built.artifact_path, "cpu", args)])
    result = future.result()
    assert result.error_msg is None
    assert len(result.run_secs) == 1 and 0 < float(result.run_secs[0]) < 0.01
