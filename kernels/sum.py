"""Sum of a vector: s[0] = sum_i x[i]."""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.kernel import TensorSpec
from autotune.tir_math import lane_split
from autotune.vector import VectorKernel


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
        # 64 independent partial sums (vectorisable across them), then the lanes and the tail.
        lanes, blocks, tail = lane_split(n, 64)
        start = blocks * lanes

        @T.prim_func(s_tir=True)
        def vsum(X: T.Buffer((n,), dtype), S: T.Buffer((1,), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            partial = T.sblock_alloc_buffer((lanes,), "float32")
            for ib, lane in T.grid(blocks, lanes):
                with T.sblock("partial"):
                    vib, vl = T.axis.remap("RS", [ib, lane])
                    with T.init():
                        partial[vl] = T.float32(0)
                    partial[vl] = partial[vl] + T.Cast("float32", X[vib * lanes + vl])
            for o, r in T.grid(1, lanes + tail):
                with T.sblock("sum"):
                    vo, vr = T.axis.remap("SR", [o, r])
                    with T.init():
                        S[vo] = T.cast(0, dtype)
                    S[vo] = S[vo] + T.Cast(dtype, T.if_then_else(
                        vr < lanes, partial[vr], T.Cast("float32", X[start + vr - lanes])))

        return vsum


TEMPLATE = Sum()
