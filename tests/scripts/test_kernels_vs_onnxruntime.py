"""scripts/kernels_vs_onnxruntime.py: a package's kernels beside ONNX Runtime's nodes."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("onnxruntime")

from autotune.model import build_model, load_onnx, map_workloads  # noqa: E402
from autotune.model.sample import sample_model  # noqa: E402


def test_every_workload_is_a_row_then_the_rest(run_script, tmp_path):
    model = sample_model(tmp_path / "m.onnx")
    package = build_model(model, "cpu", tmp_path / "no-logs", tmp_path / "pkg",
                          fallback="default")
    done = run_script("kernels_vs_onnxruntime.py", model, package, "--rounds", 2, "--runs", 2,
                      "--out", tmp_path / "k.csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "k.csv").set_index("workload")
    workloads = map_workloads(load_onnx(model).relax_module()).workloads
    assert list(table.columns) == ["calls", "tvm_us", "onnxruntime_us", "speedup", "tuning_us",
                                   "in_graph_vs_tuning"]
    # every conv and the matmul of the model found among ONNX Runtime's nodes
    assert sorted(table.index[:-3]) == sorted(wl.symbol for wl in workloads)
    assert list(table.index[-3:]) == ["(everything else)", "(total)", "(profiled total)"]
    assert (table["onnxruntime_us"] > 0).all() and (table["tvm_us"].iloc[-3:] > 0).all()
    # each side's rows scaled to its untraced call: they sum to the total
    parts = table.iloc[:-2]
    for side in ("tvm_us", "onnxruntime_us"):
        assert parts[side].sum() == pytest.approx(table.loc["(total)", side], rel=0.05)


def test_bad_arguments_are_one_line(run_script, tmp_path):
    model = sample_model(tmp_path / "m.onnx")
    other = build_model(sample_model(tmp_path / "tiny.onnx", "tiny"), "cpu", tmp_path / "no-logs",
                        tmp_path / "pkg", fallback="default")
    for args in ([model, tmp_path / "missing"], [model, tmp_path, "--rounds", 0],
                 [model, other]):  # a package of another model
        done = run_script("kernels_vs_onnxruntime.py", *args)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
