"""Row-wise numerically stable softmax of a 2-D array."""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.kernel import KernelTemplate, Param, TensorSpec, require_positive


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

        @T.prim_func(s_tir=True)
        def softmax(X: T.Buffer((m, n), dtype), Y: T.Buffer((m, n), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            row_max = T.sblock_alloc_buffer((m,), dtype)
            expx = T.sblock_alloc_buffer((m, n), dtype)
            row_sum = T.sblock_alloc_buffer((m,), dtype)
            for i, j in T.grid(m, n):
                with T.sblock("row_max"):
                    vi, vj = T.axis.remap("SR", [i, j])
                    with T.init():
                        row_max[vi] = T.min_value(dtype)
                    row_max[vi] = T.max(row_max[vi], X[vi, vj])
            for i, j in T.grid(m, n):
                with T.sblock("exp"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    expx[vi, vj] = T.exp(X[vi, vj] - row_max[vi])
            for i, j in T.grid(m, n):
                with T.sblock("row_sum"):
                    vi, vj = T.axis.remap("SR", [i, j])
                    with T.init():
                        row_sum[vi] = T.cast(0, dtype)
                    row_sum[vi] = row_sum[vi] + expx[vi, vj]
            for i, j in T.grid(m, n):
                with T.sblock("norm"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    Y[vi, vj] = expx[vi, vj] / row_sum[vi]

        return softmax


TEMPLATE = Softmax()
