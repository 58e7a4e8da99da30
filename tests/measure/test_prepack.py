"""A tuned schedule split into a weight-packing function and a kernel on packed weights."""

from __future__ import annotations

import numpy as np
import pytest
import tvm
import tvm_ffi
from tvm import s_tir
from tvm.s_tir import meta_schedule as ms

from autotune.measure.alignment import compile_kernels
from autotune.measure.compile import prepare_packed_call
from autotune.measure.prepack import split
from autotune.measure.protocol import input_sets
from autotune.search.space import space_generator
from autotune.workload import Workload

# Odd channels (29 output channels: blocks of 16, 3 padded), stride and padding.
BLOCKED = Workload("conv2d_nchwc", c=7, h=13, w=11, k=29, kh=3, kw=3, stride=2, padding=1)
GROUPED = Workload("conv2d_nchwc", c=6, h=9, w=10, k=24, groups=3, padding=1)  # 8 a group


@pytest.mark.parametrize("workload", [BLOCKED, GROUPED], ids=["padded", "grouped"])
def test_every_design_space_splits_into_pack_and_packed_kernel(cpu, workload):
    """MetaSchedule's generic design spaces and the template's register-tiled sketches."""
    ctx = ms.TuneContext(mod=workload.module(), target=cpu,
                         space_generator=space_generator(workload, cpu), task_name="prepack")
    x, w = workload.make_inputs()
    checked = 0
    for sch in ctx.generate_design_space():
        sch.enter_postproc()
        assert all(post.apply(sch) for post in ctx.space_generator.postprocs)
        plan = split(workload, sch.mod)
        if plan is None:  # the schedule inlined the packing block: nothing to split off
            continue
        functions = {"main": sch.mod["main"].with_attr("global_symbol", "main"),
                     **plan.functions("main")}
        lib = compile_kernels(tvm.IRModule(functions), cpu).jit()
        want = np.empty(workload.output_spec.shape, np.float32)
        lib["main"](x, w, want)
        packed = np.empty(plan.packed.shape, plan.packed.dtype)
        lib["main_pack"](w, packed)
        got = np.empty_like(want)
        lib["main_packed"](x, packed, got)
        np.testing.assert_array_equal(got, want)
        assert workload.check(got, [x, w]) is None
        # The packed weights are copied where the schedule packed them (into its own, often
        # thread-local buffer), not read from the argument (see autotune.measure.prepack).
        copies = _blocks(plan.kernel, workload.template.weight_pack)
        packed_param = plan.kernel.params[plan.weight]
        assert copies and all(b.reads[0].source.name == packed_param.name for b in copies)
        checked += 1
    assert checked > len(workload.template.sketches(workload.params, cpu)) >= 1


def test_templates_without_a_packing_block_do_not_split():
    conv = Workload("conv2d", **BLOCKED.params)
    assert split(conv, conv.module()) is None
    assert split(BLOCKED, BLOCKED.module()) is not None


def test_bench_times_the_packed_call_on_shared_weights(cpu):
    sets = input_sets(BLOCKED, 3)
    assert len({id(s[1]) for s in sets}) == 1  # one weight array, as a model has
    prepared = prepare_packed_call(BLOCKED.module(), BLOCKED, sets, cpu)
    for i, call in enumerate(prepared.calls):
        call()
        assert BLOCKED.check(prepared.output(i), sets[i]) is None
    assert prepare_packed_call(Workload("conv2d", **BLOCKED.params).module(),
                               Workload("conv2d", **BLOCKED.params), sets, cpu) is None


def _blocks(func, name: str) -> list:
    found = []
    tvm_ffi.structural_map(func.body, [(s_tir.SBlock, lambda b: (
        found.append(b) if b.name_hint == name else None) or b)])
    return found
