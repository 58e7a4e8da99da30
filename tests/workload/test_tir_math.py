"""Vectorisable math of the templates (autotune.workload.tir_math)."""

from __future__ import annotations

import numpy as np
import tvm
from tvm.script import tirx as T

from autotune.measure.alignment import compile_kernels
from autotune.workload.tir_math import fast_expf, lane_split

N = 4099


@T.prim_func(s_tir=True)
def _exp(X: T.Buffer((N,), "float32"), Y: T.Buffer((N,), "float32")):
    T.func_attr({"global_symbol": "main", "tirx.noalias": True})
    for i in range(N):
        with T.sblock("exp"):
            vi = T.axis.spatial(N, i)
            Y[vi] = fast_expf(X[vi])


def test_fast_expf_is_within_two_ulp_and_needs_no_libm_call(cpu):
    ex = compile_kernels(tvm.IRModule({"main": _exp}), cpu)
    x = np.random.default_rng(0).uniform(-87.0, 88.0, N).astype(np.float32)
    x[:4] = [0.0, -1e-30, 1.0, -87.0]
    y = np.empty_like(x)
    ex.jit()["main"](x, y)
    want = np.exp(x.astype(np.float64))
    ulp = np.spacing(want.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(y - want) / ulp) <= 2.0
    assert "expf" not in ex.mod.inspect_source("asm")  # arithmetic only, so it vectorises


def test_lane_split_covers_every_length():
    for n, lanes in [(1, 64), (63, 64), (64, 64), (100_003, 64), (1001, 32)]:
        width, blocks, tail = lane_split(n, lanes)
        assert width * blocks + tail == n and 0 <= tail < width <= lanes and blocks >= 1
