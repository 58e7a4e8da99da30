"""Sum of a vector: s[0] = sum_i x[i]."""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.workload.template import TensorSpec
from autotune.workload.tir_math import chunk_split
from autotune.workload.vector import VectorKernel


class Sum(VectorKernel):
    name = "sum"
    doc = "s[0] = sum_i x[i]"

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((1,), p["dtype"])

    def reduction_length(self, p: dict[str, Any]) -> int:
        return p["n"]

    def flops(self, p: dict[str, Any]) -> float:
        return float(p["n"])

    def reference(self, p: dict[str, Any], x: np.ndarray) -> np.ndarray:
        return np.array([x.astype(np.float64).sum()]).astype(p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        n, dtype = p["n"], p["dtype"]
        # MetaSchedule tiles loops only by exact divisors, so a plain loop over a prime n is
        # neither vectorised nor split across cores. Here the sum runs in three stages:
        # `chunks` independent partial sums (one per core's share) of whole rows of `lanes`
        # (vectorised across the lanes), the rows left over folded into `lanes` partials,
        # then one scalar sum of those and of the last n % lanes elements.
        lanes, chunks, rows, rest, tail = chunk_split(n, 64, 16)
        covered = chunks * rows * lanes
        folded = covered + rest * lanes

        @T.prim_func(s_tir=True)
        def vsum(X: T.Buffer((n,), dtype), S: T.Buffer((1,), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            part = T.sblock_alloc_buffer((chunks, lanes), dtype)
            lane_sum = T.sblock_alloc_buffer((lanes,), dtype)
            for c, b, lane in T.grid(chunks, rows, lanes):
                with T.sblock("chunk_sum"):
                    vc, vb, vl = T.axis.remap("SRS", [c, b, lane])
                    with T.init():
                        part[vc, vl] = T.cast(0, dtype)
                    part[vc, vl] = part[vc, vl] + X[(vc * rows + vb) * lanes + vl]
            for r, lane in T.grid(chunks + rest, lanes):
                with T.sblock("lane_sum"):
                    vr, vl = T.axis.remap("RS", [r, lane])
                    with T.init():
                        lane_sum[vl] = T.cast(0, dtype)
                    lane_sum[vl] = lane_sum[vl] + T.if_then_else(
                        vr < chunks, part[vr, vl], X[covered + (vr - chunks) * lanes + vl])
            for o, r in T.grid(1, lanes + tail):
                with T.sblock("sum"):
                    vo, vr = T.axis.remap("SR", [o, r])
                    with T.init():
                        S[vo] = T.cast(0, dtype)
                    S[vo] = S[vo] + T.if_then_else(
                        vr < lanes, lane_sum[vr], X[folded + vr - lanes])

        return vsum


TEMPLATE = Sum()
