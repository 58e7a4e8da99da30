"""Sum of a vector: s[0] = sum_i x[i]."""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.workload.template import TensorSpec
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

        @T.prim_func(s_tir=True)
        def vsum(X: T.Buffer((n,), dtype), S: T.Buffer((1,), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            for o, i in T.grid(1, n):
                with T.sblock("sum"):
                    vo, vi = T.axis.remap("SR", [o, i])
                    with T.init():
                        S[vo] = T.cast(0, dtype)
                    S[vo] = S[vo] + X[vi]

        return vsum


TEMPLATE = Sum()
