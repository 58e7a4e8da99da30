"""Row-wise numerically stable softmax of a 2-D array.

Two forms: ``prim_func`` (five passes as separate loop nests, which MetaSchedule schedules
for GPUs) and, for CPUs, ``_rows`` (one block a row, scheduled by hand).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tvm_ffi
from tvm.script import tirx as T

from autotune.workload.template import KernelTemplate, Param, TensorSpec, require_positive
from autotune.workload.tir_math import exp, lane_split


class Softmax(KernelTemplate):
    name = "softmax"
    doc = "Y[i,j] = exp(X[i,j] - max_j X[i,:]) / sum_j exp(X[i,j] - max_j X[i,:])"
    params = (
        Param("m", "int", None, "rows"),
        Param("n", "int", None, "row length (softmax axis)"),
        Param("dtype", "dtype", "float32", "element type"),
    )

    def check(self, p: dict[str, Any]) -> None:
        require_positive(p, "m", "n")

    def input_specs(self, p: dict[str, Any]) -> list[TensorSpec]:
        return [TensorSpec((p["m"], p["n"]), p["dtype"])]

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((p["m"], p["n"]), p["dtype"])

    def reduction_length(self, p: dict[str, Any]) -> int:
        return p["n"]

    def flops(self, p: dict[str, Any]) -> float:
        # max, subtract, exp, sum, divide: one op each per element.
        return 5.0 * p["m"] * p["n"]

    def make_inputs(self, p: dict[str, Any], rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.uniform(-8.0, 8.0, size=(p["m"], p["n"])).astype(p["dtype"])]

    def reference(self, p: dict[str, Any], x: np.ndarray) -> np.ndarray:
        x64 = x.astype(np.float64)
        e = np.exp(x64 - x64.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        m, n, dtype = p["m"], p["n"], p["dtype"]
        acc = "float32"  # exp, sums and the normalisation, for float16 too
        # Row reductions run over `lanes` independent partial results (vectorisable across
        # the lanes), then over the lanes and the row's tail; exp is arithmetic only.
        lanes, blocks, tail = lane_split(n, 32)
        start = blocks * lanes

        @T.prim_func(s_tir=True)
        def softmax(X: T.Buffer((m, n), dtype), Y: T.Buffer((m, n), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            max_lanes = T.sblock_alloc_buffer((m, lanes), dtype)
            row_max = T.sblock_alloc_buffer((m,), dtype)
            expx = T.sblock_alloc_buffer((m, n), acc)
            sum_lanes = T.sblock_alloc_buffer((m, lanes), acc)
            row_sum = T.sblock_alloc_buffer((m,), acc)
            for i, jb, lane in T.grid(m, blocks, lanes):
                with T.sblock("max_lanes"):
                    vi, vjb, vl = T.axis.remap("SRS", [i, jb, lane])
                    with T.init():
                        max_lanes[vi, vl] = T.min_value(dtype)
                    max_lanes[vi, vl] = T.max(max_lanes[vi, vl], X[vi, vjb * lanes + vl])
            for i, r in T.grid(m, lanes + tail):
                with T.sblock("row_max"):
                    vi, vr = T.axis.remap("SR", [i, r])
                    with T.init():
                        row_max[vi] = T.min_value(dtype)
                    row_max[vi] = T.max(row_max[vi], T.if_then_else(
                        vr < lanes, max_lanes[vi, vr], X[vi, start + vr - lanes]))
            for i, j in T.grid(m, n):
                with T.sblock("exp"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    expx[vi, vj] = exp(X[vi, vj] - row_max[vi])
            for i, jb, lane in T.grid(m, blocks, lanes):
                with T.sblock("sum_lanes"):
                    vi, vjb, vl = T.axis.remap("SRS", [i, jb, lane])
                    with T.init():
                        sum_lanes[vi, vl] = T.cast(0, acc)
                    sum_lanes[vi, vl] = sum_lanes[vi, vl] + expx[vi, vjb * lanes + vl]
            for i, r in T.grid(m, lanes + tail):
                with T.sblock("row_sum"):
                    vi, vr = T.axis.remap("SR", [i, r])
                    with T.init():
                        row_sum[vi] = T.cast(0, acc)
                    row_sum[vi] = row_sum[vi] + T.if_then_else(
                        vr < lanes, sum_lanes[vi, vr], expx[vi, start + vr - lanes])
            for i, j in T.grid(m, n):
                with T.sblock("norm"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    Y[vi, vj] = T.cast(expx[vi, vj] * (T.float32(1) / row_sum[vi]), dtype)

        return softmax

    def prim_func_for(self, p: dict[str, Any], target_kind: str):
        return self._rows(p) if target_kind == "llvm" else self.prim_func(p)

    def _rows(self, p: dict[str, Any]):
        """The CPU form: one block per row does all of the row's passes (max, exp and sum,
        scale) while the row is in cache, rows split across the cores, every pass
        vectorised across its lanes, exp written straight into Y and scaled in place. As
        separate loop nests over the whole array (``prim_func``) each pass went to memory:
        MetaSchedule's rules tile blocks one at a time and do not fuse five passes into one
        row loop. The search chooses how far the row's loops are unrolled."""
        m, n, dtype = p["m"], p["n"], p["dtype"]
        acc = "float32"
        lanes, blocks, tail = lane_split(n, 32)
        start = blocks * lanes

        @T.prim_func(s_tir=True)
        def softmax_rows(X: T.Buffer((m, n), dtype), Y: T.Buffer((m, n), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            with T.sblock("root"):
                T.sblock_attr({"schedule_rule": "None"})
                max_lanes = T.sblock_alloc_buffer((m, lanes), acc)
                sum_lanes = T.sblock_alloc_buffer((m, lanes), acc)
                row_max = T.sblock_alloc_buffer((m,), acc)
                row_sum = T.sblock_alloc_buffer((m,), acc)
                for i in T.parallel(m):
                    with T.sblock("row"):
                        vi = T.axis.spatial(m, i)
                        T.reads(X[vi, 0:n])
                        T.writes(Y[vi, 0:n], max_lanes[vi, 0:lanes], sum_lanes[vi, 0:lanes],
                                 row_max[vi], row_sum[vi])
                        T.sblock_attr({"schedule_rule": UNROLL_RULE})
                        for lane in T.vectorized(lanes):
                            max_lanes[vi, lane] = T.min_value(acc)
                        for jb in range(blocks):
                            for lane in T.vectorized(lanes):
                                max_lanes[vi, lane] = T.max(
                                    max_lanes[vi, lane], T.cast(X[vi, jb * lanes + lane], acc))
                        row_max[vi] = T.min_value(acc)
                        for r in range(lanes):
                            row_max[vi] = T.max(row_max[vi], max_lanes[vi, r])
                        for t in range(tail):
                            row_max[vi] = T.max(row_max[vi], T.cast(X[vi, start + t], acc))
                        for lane in T.vectorized(lanes):
                            sum_lanes[vi, lane] = T.float32(0)
                        for jb in range(blocks):
                            for lane in T.vectorized(lanes):
                                Y[vi, jb * lanes + lane] = T.cast(
                                    exp(X[vi, jb * lanes + lane] - row_max[vi]), dtype)
                                sum_lanes[vi, lane] = sum_lanes[vi, lane] + T.cast(
                                    Y[vi, jb * lanes + lane], acc)
                        row_sum[vi] = T.float32(0)
                        for r in range(lanes):
                            row_sum[vi] = row_sum[vi] + sum_lanes[vi, r]
                        for t in range(tail):
                            Y[vi, start + t] = T.cast(exp(X[vi, start + t] - row_max[vi]), dtype)
                            row_sum[vi] = row_sum[vi] + T.cast(Y[vi, start + t], acc)
                        row_sum[vi] = T.float32(1) / row_sum[vi]  # scaled by its reciprocal
                        for jb in range(blocks):
                            for lane in T.vectorized(lanes):
                                Y[vi, jb * lanes + lane] = T.cast(T.cast(
                                    Y[vi, jb * lanes + lane], acc) * row_sum[vi], dtype)
                        for t in range(tail):
                            Y[vi, start + t] = T.cast(
                                T.cast(Y[vi, start + t], acc) * row_sum[vi], dtype)

        return softmax_rows


UNROLL_RULE = "autotune_row_unroll"


@tvm_ffi.register_global_func(f"s_tir.meta_schedule.cpu.{UNROLL_RULE}", override=True)
def _row_unroll(sch, block):
    """The search's one choice in a block scheduled by hand: how far its loops unroll."""
    row = sch.get_loops(block)[0]
    steps = sch.sample_categorical([0, 16, 64, 512], [0.25] * 4)
    sch.annotate(row, "pragma_auto_unroll_max_step", steps)
    sch.annotate(row, "pragma_unroll_explicit", 1)
    return [sch]


TEMPLATE = Softmax()
