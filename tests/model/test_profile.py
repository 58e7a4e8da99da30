"""A build's kernels beside the ONNX Runtime nodes that do the same work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autotune.model.profile import by_workload, node_workloads, with_tuning_latency
from autotune.workload import Workload

RELU6 = Workload("conv2d", c=24, h=56, w=56, k=144, kh=1, kw=1, epilogue="bias+relu6")
LINEAR = Workload("conv2d", c=24, h=56, w=56, k=144, kh=1, kw=1, epilogue="bias")
RESIDUAL = Workload("conv2d", c=144, h=56, w=56, k=24, kh=1, kw=1, epilogue="bias+add")
DEPTHWISE = Workload("conv2d", c=96, h=112, w=112, k=96, groups=96, stride=2, padding=1,
                     epilogue="bias+relu6")
GEMV = Workload("gemm", m=1, n=1000, k=1280)


def nodes(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["node", "op", "calls", "us", "inputs", "outputs"])


# As ONNX Runtime's profiler shows them: NCHWc nodes with channels padded to the block (24
# to 32), a residual as a fourth input, a GEMV's weights prepacked (its B not shown).
PROFILED = nodes(
    ("expand", "Conv", 1, 100.0, [(1, 32, 56, 56), (144, 32, 1, 1), (144,)], [(1, 144, 56, 56)]),
    ("project", "Conv", 1, 60.0,
     [(1, 144, 56, 56), (32, 144, 1, 1), (32,), (1, 32, 56, 56)], [(1, 32, 56, 56)]),
    ("dw", "Conv", 1, 40.0, [(1, 96, 112, 112), (96, 1, 3, 3), (96,)], [(1, 96, 56, 56)]),
    ("dw-stride-1", "Conv", 1, 7.0, [(1, 96, 112, 112), (96, 1, 3, 3), (96,)],
     [(1, 96, 112, 112)]),
    ("fc", "Gemm", 1, 30.0, [(1, 1280), (1000,)], [(1, 1000)]),
    ("pool", "GlobalAveragePool", 1, 5.0, [(1, 1280, 7, 7)], [(1, 1280, 1, 1)]),
)


def test_nodes_are_matched_to_workloads_by_shape():
    named = node_workloads(PROFILED, [RELU6, LINEAR, RESIDUAL, DEPTHWISE, GEMV])
    assert named == [f"{RELU6.symbol}|{LINEAR.symbol}",  # told apart by activation alone
                     RESIDUAL.symbol, DEPTHWISE.symbol, None, GEMV.symbol, None]
    # without a residual input, not the residual workload
    assert node_workloads(nodes(("x", "Conv", 1, 1.0, [(1, 144, 56, 56), (32, 144, 1, 1), (32,)],
                                 [(1, 32, 56, 56)])), [RESIDUAL]) == [None]
    # 40 channels are not 24 padded to a block of 8 or 16
    assert node_workloads(nodes(("x", "Conv", 1, 1.0, [(1, 40, 56, 56), (144, 40, 1, 1)],
                                 [(1, 144, 56, 56)])), [LINEAR]) == [None]


def test_each_workload_beside_its_nodes_then_the_rest():
    unmatched = Workload("conv2d", c=8, h=7, w=7, k=8)
    workloads = [RESIDUAL, DEPTHWISE, GEMV, unmatched]
    tvm_profile = pd.DataFrame({
        "part": [RESIDUAL.symbol, DEPTHWISE.symbol, GEMV.symbol, unmatched.symbol,
                 "vm.builtin.alloc_tensor", "fused_mean"],
        "category": ["kernel", "kernel", "kernel", "kernel", "vm", "glue"],
        "calls": [1.0, 1, 1, 1, 3, 1], "us": [50.0, 80.0, 30.0, 9.0, 4.0, 6.0]})
    table = by_workload(tvm_profile, PROFILED, workloads).set_index("workload")
    assert list(table.index) == [RESIDUAL.symbol, DEPTHWISE.symbol, GEMV.symbol,
                                 unmatched.symbol,  # by ONNX Runtime's time, none last
                                 "(everything else)", "(total)"]
    assert table.loc[RESIDUAL.symbol, ["tvm_us", "onnxruntime_us"]].tolist() == [50.0, 60.0]
    assert table.loc[DEPTHWISE.symbol, "speedup"] == pytest.approx(40 / 80)
    assert table.loc[unmatched.symbol, "tvm_us"] == 9.0
    assert np.isnan(table.loc[unmatched.symbol, "onnxruntime_us"])
    assert table.loc["(everything else)", "tvm_us"] == pytest.approx(10.0)
    assert table.loc["(everything else)", "onnxruntime_us"] == pytest.approx(100 + 7 + 5)
    assert table.loc["(total)", "tvm_us"] == pytest.approx(tvm_profile["us"].sum())
    assert table.loc["(total)", "onnxruntime_us"] == pytest.approx(PROFILED["us"].sum())
    assert np.isnan(table.loc["(total)", "calls"])


def test_the_search_latency_beside_the_time_in_the_network():
    table = pd.DataFrame({"workload": [f"{RELU6.symbol}|{LINEAR.symbol}", GEMV.symbol,
                                       "(total)"],
                          "calls": [2.0, 1.0, float("nan")], "tvm_us": [300.0, 30.0, 400.0]})
    got = with_tuning_latency(table, {RELU6.symbol: 100e-6, LINEAR.symbol: 200e-6,
                                      GEMV.symbol: 20e-6}).set_index("workload")
    assert got["tuning_us"].iloc[0] == pytest.approx(150.0)  # the two it cannot tell apart
    assert got["in_graph_vs_tuning"].iloc[0] == pytest.approx(150.0 / 150.0)
    assert got.loc[GEMV.symbol, "in_graph_vs_tuning"] == pytest.approx(1.5)
    assert np.isnan(got.loc["(total)", "in_graph_vs_tuning"])
