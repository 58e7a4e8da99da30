"""Elementwise vector add z = x + y."""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.workload.tir_math import lane_split
from autotune.workload.vector import ElementwiseKernel


class Add(ElementwiseKernel):
    name = "add"
    doc = "z[i] = x[i] + y[i]"
    arity = 2

    def flops(self, p: dict[str, Any]) -> float:
        return float(p["n"])

    def reference(self, p: dict[str, Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x.astype(np.float64) + y).astype(p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        n, dtype = p["n"], p["dtype"]
        # Whole rows of 64 (vectorised without a bounds check), then the tail.
        lanes, blocks, tail = lane_split(n, 64)
        start = blocks * lanes

        @T.prim_func(s_tir=True)
        def add(X: T.Buffer((n,), dtype), Y: T.Buffer((n,), dtype), Z: T.Buffer((n,), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            for ib, lane in T.grid(blocks, lanes):
                with T.sblock("add"):
                    vi = T.axis.spatial(n, ib * lanes + lane)
                    Z[vi] = X[vi] + Y[vi]
            if tail > 0:
                for t in range(tail):
                    with T.sblock("add_tail"):
                        vi = T.axis.spatial(n, start + t)
                        Z[vi] = X[vi] + Y[vi]

        return add


TEMPLATE = Add()
