"""Default CPU schedules for the ops around the tuned kernels (bias, ReLU, pooling, ...).

After fusion, the model's other ops are small TIR functions that TVM would compile as
plain single-threaded loops. Elementwise ones get a parallel, vectorized loop (rule below);
reductions over the innermost axes a vector of partial sums per row (``VectorRowReduction``),
other reductions TVM's dlight CPU reduction rule. Their float32 ``exp`` and ``sigmoid`` are
first written in arithmetic (``tir_math``): TVM lowers both to one scalar ``expf`` call per
element, which keeps LLVM from vectorising the loop (EfficientNet's SiLU, x * sigmoid(x),
on 1.2M elements: 1.69 ms as calls, 0.31 ms in arithmetic, on 2 cores). Scheduled functions
are marked opaque, so a later fusion pass leaves them (and the spliced kernels) as they are.
"""

from __future__ import annotations

import tvm
import tvm_ffi
from tvm import relax, s_tir, tirx
from tvm.s_tir.dlight.analysis import normalize_prim_func
from tvm.s_tir.dlight.base import ApplyDefaultSchedule, ScheduleRule
from tvm.s_tir.dlight.base.utils import get_extent
from tvm.s_tir.dlight.cpu import Reduction

from autotune.model.kernels import OPAQUE
from autotune.workload import tir_math

VECTOR = 16  # float32 lanes of an AVX-512 register; LLVM splits it for narrower ISAs
PARALLEL_MIN = 4096  # below this many elements a fork/join costs more than it saves


def vector_lanes(row: int | object) -> int | None:
    """The lanes of an elementwise loop whose innermost axis (a row) has ``row`` elements:
    16 or 8 where they divide it, else the whole row up to 64 (7, 14 or 28 on a network's
    late feature maps), else 4 where it divides it, else 16. A vector then never straddles
    two rows, so TVM proves its elements contiguous: one that straddles them (16 lanes over
    rows of 56) is loaded element by element, 3-4x slower a value (SiLU on 1x144x56x56)."""
    if not isinstance(row, int):
        return None
    for lanes in (VECTOR, 8):
        if row % lanes == 0:
            return lanes
    if row <= 4 * VECTOR:
        return row
    return 4 if row % 4 == 0 else VECTOR


class ParallelElementwise(ScheduleRule):
    """Inline every injective block into the last, then parallelize and vectorize its loops."""

    def apply(self, func: tirx.PrimFunc, target: tvm.target.Target, _tunable: bool):
        if not isinstance(func, tirx.PrimFunc) or target.kind.name != "llvm":
            return None
        sch = s_tir.Schedule(func)
        blocks = normalize_prim_func(sch)
        if not blocks or not all(b.is_injective() for b in blocks):
            return None
        try:
            for block in blocks[:-1]:
                sch.compute_inline(block.block_rv)
        except tvm.TVMError:
            return None
        loops = sch.get_loops(blocks[-1].block_rv)
        if not loops:
            return None
        lanes = vector_lanes(get_extent(sch, loops[-1]))
        fused = sch.fuse(*loops)
        extent = get_extent(sch, fused)
        if not isinstance(extent, int) or lanes is None or extent < lanes:
            return sch
        outer, inner = sch.split(fused, [None, lanes])
        sch.vectorize(inner)
        if extent >= PARALLEL_MIN:
            sch.parallel(outer)
        return sch


class VectorRowReduction(ScheduleRule):
    """A reduction over a tensor's innermost axes (a global average pool: the mean of each
    channel's H x W in NCHW) as vectors of partial sums: the fused reduction axis split by a
    vector of lanes that divides it, ``rfactor`` on the lanes (one accumulator vector, the
    lanes summed once at the end), the outer axes parallel, the blocks after it (the mean's
    divide) at each outer iteration. dlight's CPU rule sums each row into one scalar, a chain
    of dependent adds: EfficientNet-B0's first squeeze-and-excitation mean (32 x 112 x 112)
    took 181 us of its glue, on 2 cores."""

    LANES = (64, 32, 16, 8, 4)

    def apply(self, func: tirx.PrimFunc, target: tvm.target.Target, _tunable: bool):
        if not isinstance(func, tirx.PrimFunc) or target.kind.name != "llvm":
            return None
        sch = s_tir.Schedule(func)
        blocks = normalize_prim_func(sch)
        reductions = [b for b in blocks or [] if b.is_reduction()]
        others = [b for b in blocks or [] if b not in reductions]
        if len(reductions) != 1 or not all(b.is_injective() for b in others):
            return None
        (reduction,) = reductions
        kinds = "".join(i.kind for i in reduction.iters)
        spatial = kinds.index("R")
        if spatial == 0 or kinds != "S" * spatial + "R" * (len(kinds) - spatial):
            return None
        if not _reads_innermost(sch.get(reduction.block_rv), len(kinds) - spatial):
            return None  # e.g. a sum over the channels of NCHW: strided, not a row
        position = blocks.index(reduction)
        try:
            for block in blocks[:position]:
                sch.compute_inline(block.block_rv)
            loops = sch.get_loops(reduction.block_rv)
            fused = sch.fuse(*loops[spatial:])
            extent = get_extent(sch, fused)
            lanes = next((n for n in self.LANES if isinstance(extent, int) and extent % n == 0),
                         None)
            if lanes is None:
                return None
            lane_loop = sch.split(fused, [None, lanes])[1]
            rank = len(sch.get(reduction.block_rv).writes[0].region)
            partial = sch.rfactor(lane_loop, factor_axis=rank)
            loops = sch.get_loops(partial)
            sch.vectorize(loops[-1])
            outer = sch.fuse(*loops[:spatial])
            for block in blocks[position:]:
                sch.reverse_compute_at(block.block_rv, outer)
            sch.parallel(outer)
            init = sch.decompose_reduction(partial, sch.get_loops(partial)[1])
            sch.vectorize(sch.get_loops(init)[-1])
        except tvm.TVMError:
            return None
        return sch


def _reads_innermost(block, count: int) -> bool:
    """Whether ``block`` reads its input along its last ``count`` iterators (the
    reductions) as that buffer's innermost axes, in order."""
    reduced = [iv.var for iv in block.iter_vars[-count:]]
    written = [region.source for region in block.writes]
    for region in block.reads:
        if any(region.source.same_as(w) for w in written):
            continue
        mins = [r.min for r in region.region[-count:]]
        if len(mins) == count and all(m.same_as(v) for m, v in zip(mins, reduced)):
            return True
    return False


def _arithmetic_exp(call):
    """A float32 ``exp`` or ``sigmoid`` call in arithmetic LLVM vectorises; others as they are."""
    if str(call.ty) != "float32" or not isinstance(call.op, tvm.ir.Op):
        return call
    if call.op.name == "tirx.exp":
        return tir_math.exp(call.args[0])
    if call.op.name == "tirx.sigmoid":
        return tir_math.sigmoid(call.args[0])
    return call


def vector_math(mod: tvm.IRModule) -> tvm.IRModule:
    """``mod`` with the float32 ``exp`` and ``sigmoid`` of its unscheduled TIR functions
    written in arithmetic (see the module)."""
    functions = {}
    for gvar, func in mod.functions_items():
        if isinstance(func, tirx.PrimFunc) and "tirx.is_scheduled" not in func.attrs:
            func = func.with_body(
                tvm_ffi.structural_map(func.body, [(tvm.ir.Call, _arithmetic_exp)]))
        functions[gvar] = func
    return tvm.IRModule(functions, attrs=mod.attrs, global_infos=mod.global_infos)


def schedule_glue(mod: tvm.IRModule, target: tvm.target.Target) -> tvm.IRModule:
    """Fuse the Relax graph's ops and give the resulting TIR functions default schedules."""
    seq = tvm.transform.Sequential([
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
    ])
    with target:
        mod = seq(mod)
        if target.kind.name == "llvm":
            mod = vector_math(mod)
        mod = ApplyDefaultSchedule(VectorRowReduction(), Reduction(), ParallelElementwise())(mod)
    for gvar, func in mod.functions_items():
        if isinstance(func, tirx.PrimFunc) and "tirx.is_scheduled" in func.attrs:
            mod[gvar] = func.with_attr("op_pattern", OPAQUE)
    return mod
