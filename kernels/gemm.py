"""Dense matrix multiply C[m, n] = A[m, k] @ B[k, n]."""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.workload.template import KernelTemplate, Param, TensorSpec, require_positive


class Gemm(KernelTemplate):
    name = "gemm"
    doc = "C[m,n] = sum_k A[m,k] * B[k,n]"
    params = (
        Param("m", "int", None, "rows of A and C"),
        Param("n", "int", None, "columns of B and C"),
        Param("k", "int", None, "reduction length"),
        Param("dtype", "dtype", "float32", "element type"),
    )

    def check(self, p: dict[str, Any]) -> None:
        require_positive(p, "m", "n", "k")

    def input_specs(self, p: dict[str, Any]) -> list[TensorSpec]:
        return [TensorSpec((p["m"], p["k"]), p["dtype"]), TensorSpec((p["k"], p["n"]), p["dtype"])]

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((p["m"], p["n"]), p["dtype"])

    def reduction_length(self, p: dict[str, Any]) -> int:
        return p["k"]

    def flops(self, p: dict[str, Any]) -> float:
        return 2.0 * p["m"] * p["n"] * p["k"]

    def reference(self, p: dict[str, Any], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        m, n, k, dtype = p["m"], p["n"], p["k"], p["dtype"]

        @T.prim_func(s_tir=True)
        def gemm(
            A: T.Buffer((m, k), dtype), B: T.Buffer((k, n), dtype), C: T.Buffer((m, n), dtype)
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            for i, j, r in T.grid(m, n, k):
                with T.sblock("C"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        C[vi, vj] = T.cast(0, dtype)
                    C[vi, vj] = C[vi, vj] + A[vi, vr] * B[vr, vj]

        return gemm


TEMPLATE = Gemm()
