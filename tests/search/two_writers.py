"""A template MetaSchedule cannot build a design space for: two blocks write C (its
multi-level tiling caches a block's writes, which needs the block to be C's only writer)."""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.kernels.gemm import Gemm


class TwoWriters(Gemm):
    name = "two_writers"

    def prim_func(self, p: dict[str, Any]):
        m, n, k, dtype = p["m"], p["n"], p["k"], p["dtype"]
        main = n - 3

        @T.prim_func(s_tir=True)
        def f(
            A: T.Buffer((m, k), dtype), B: T.Buffer((k, n), dtype), C: T.Buffer((m, n), dtype)
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            for i, j, r in T.grid(m, main, k):
                with T.sblock("C"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        C[vi, vj] = T.cast(0, dtype)
                    C[vi, vj] = C[vi, vj] + A[vi, vr] * B[vr, vj]
            for i, j, r in T.grid(m, 3, k):
                with T.sblock("C_edge"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        C[vi, main + vj] = T.cast(0, dtype)
                    C[vi, main + vj] = C[vi, main + vj] + A[vi, vr] * B[vr, main + vj]
        return f


TEMPLATE = TwoWriters()
