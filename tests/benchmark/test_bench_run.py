"""Suites, and the bench table built on the session's tuned log (no extra tuning)."""

from __future__ import annotations

import math
import re
import shutil

import pandas as pd
import pytest
from conftest import TINY_CONV

from autotune.benchmark.run import bench
from autotune.benchmark.table import load_results
from autotune.errors import AutotuneError
from autotune.hardware.isa import isa_peak
from autotune.logs.events import trials_done
from autotune.logs.store import LogStore, record_seconds
from autotune.measure.protocol import Protocol
from autotune.workload.suite import load_suite, shipped_suites

FAST = Protocol(repeat=5, min_sample_s=1e-3, warmup_s=0.02, max_sets=4)


def _suite_text(trials_conv: int) -> str:
    conv = "\n".join(f"{k} = {list(v) if isinstance(v, tuple) else v}" for k, v in TINY_CONV.items())
    return (f'name = "tiny"\n\n[[workload]]\nkernel = "conv2d"\n{conv}\ntrials = {trials_conv}\n\n'
            '[[workload]]\nkernel = "add"\nn = 1000\ntrials = 0\n')


def test_shipped_suites_load():
    suites = {name: load_suite(name) for name in shipped_suites()}
    assert {"conv-unusual", "vector-ops", "gemm-odd"} <= set(suites)
    convs = suites["conv-unusual"].workloads
    assert len(convs) >= 12 and all(i.trials >= 300 for i in suites["conv-unusual"].items)
    p = [w.params for w in convs]
    assert any(x["groups"] == x["c"] > 1 for x in p)  # depthwise
    assert any(1 < x["groups"] < x["c"] for x in p)  # grouped
    assert any((x["kh"], x["kw"]) == (5, 1) for x in p) and any(x["kh"] == x["kw"] == 7 for x in p)
    assert {2, 3} <= {s for x in p for s in x["stride"]}
    assert any(2 in x["dilation"] for x in p) and any(x["n"] > 1 for x in p)
    assert any(x["kh"] == x["kw"] == 1 and x["c"] % 2 for x in p)


@pytest.mark.parametrize("text,message", [
    (b'workload = [1, 2]\n', "workload 1: expected a [[workload]] table, got 1"),
    (b'workload = ["a"]\n', "expected a [[workload]] table, got 'a'"),
    (b'name = "x\xff"\n', "not UTF-8 text"),
    (b'name = "../../x"\n[[workload]]\nkernel = "add"\nn = 8\n', "name must be letters"),
    (b'trials = 99999999999999999\n[[workload]]\nkernel = "add"\nn = 8\n',
     "trials must be an integer from 0 to 2147483647"),
])
def test_malformed_suites_are_one_error(tmp_path, text, message):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(text)
    with pytest.raises(AutotuneError, match=re.escape(message)):
        load_suite(bad)


def test_a_workload_given_zero_trials_gets_zero(tmp_path):
    suite = tmp_path / "zero.toml"
    suite.write_text('trials = 5\n[[workload]]\nkernel = "add"\nn = 8\ntrials = 0\n')
    assert [item.trials for item in load_suite(suite).items] == [0]


def test_suite_errors_are_all_reported_with_lines(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('trials = 5\n\n[[workload]]\nkernel = "gemm"\nm = 0\nn = 2\nk = 2\n\n'
                   '[[workload]]\nkernel = "nope"\n\n[[workload]]\nn = 3\n')
    with pytest.raises(AutotuneError) as err:
        load_suite(bad)
    text = str(err.value)
    assert "3 error(s)" in text
    assert f"{bad}:3: workload 1: parameter 'm'" in text
    assert f"{bad}:9: workload 2" in text and "nope" in text
    assert f"{bad}:12: workload 3: missing kernel" in text
    with pytest.raises(AutotuneError, match="no suite file"):
        load_suite("no-such-suite")


@pytest.mark.tuning
def test_bench_table_reuses_the_log(tuned, cpu, tmp_path):
    wl, shared_logs, result = tuned
    log_dir = tmp_path / "logs"  # a copy: the bench adds a log for the untuned add
    shutil.copytree(shared_logs, log_dir)
    result_path = LogStore(log_dir).path(wl, cpu)
    suite = tmp_path / "tiny.toml"
    suite.write_text(_suite_text(result.trials_run))
    before = trials_done(result_path)
    out = bench(suite, cpu, log_dir=log_dir, out_dir=tmp_path / "res", protocol=FAST,
                progress=False)
    assert trials_done(result_path) == before  # budget already met: nothing re-tuned
    table = out.results
    assert set(table["implementation"]) == {"tvm-tuned", "tvm-untuned", "numpy", "torch",
                                            "onnxruntime"}
    for column in ("median_us", "min_us", "max_us", "spread", "gflops", "gbps", "intensity",
                   "roofline_gflops", "roofline_fraction", "speedup_vs_numpy", "speedup_vs_torch",
                   "speedup_vs_onnxruntime", "speedup_vs_best_baseline", "validated", "trials",
                   "tuning_s", "tvm_version", "target", "host", "threads", "date",
                   "peak_gflops", "peak_gbps", "command", "kernel_us", "call_overhead_us",
                   "timed", "weights", "peak_fraction", "bandwidth_fraction",
                   "isa_peak_gflops", "isa_peak_fraction"):
        assert column in table, column
    timed = table[table["correct"]]
    # The protocol's promises: its samples, each about min_sample_s long (calibrated after
    # the warm-up), on its input sets.
    assert (timed["samples"] == FAST.repeat).all()
    assert (timed["calls_per_sample"] * timed["median_us"] >= 0.5 * FAST.min_sample_s * 1e6).all()
    assert timed["gflops"].to_numpy() == pytest.approx((timed["flops"] / timed["median_us"] / 1e3).to_numpy())
    assert timed["gbps"].to_numpy() == pytest.approx((timed["bytes"] / timed["median_us"] / 1e3).to_numpy())
    conv = table[table["workload"] == wl.key].set_index("implementation")
    assert conv.loc["tvm-tuned", "validated"] and conv.loc["tvm-tuned", "trials"] == before
    assert conv.loc["tvm-tuned", "speedup_vs_numpy"] == pytest.approx(
        conv.loc["numpy", "median_us"] / conv.loc["tvm-tuned", "median_us"])
    assert conv.loc["tvm-tuned", "speedup_vs_onnxruntime"] == pytest.approx(
        conv.loc["onnxruntime", "median_us"] / conv.loc["tvm-tuned", "median_us"])
    best = min(conv.loc[b, "median_us"] for b in ("numpy", "torch", "onnxruntime"))
    assert conv.loc["tvm-untuned", "speedup_vs_best_baseline"] == pytest.approx(
        best / conv.loc["tvm-untuned", "median_us"])
    untuned_add = table[(table["kernel"] == "add") & (table["implementation"] == "tvm-tuned")]
    assert not untuned_add["correct"].item() and math.isnan(untuned_add["median_us"].item())
    assert (table["threads"] == cpu.attrs["num-cores"]).all()
    isa = isa_peak(cpu)
    assert 0.05 * isa.gflops < table["peak_gflops"].iloc[0] <= 1.5 * isa.gflops
    assert table["peak_gbps"].iloc[0] > 1
    # TVM's rows are the package call; the bare kernel and the difference beside it.
    for impl in ("tvm-tuned", "tvm-untuned"):
        row = conv.loc[impl]
        assert row["timed"].startswith("package call") and row["kernel_us"] > 0
        assert row["call_overhead_us"] == pytest.approx(row["median_us"] - row["kernel_us"])
    assert conv.loc["onnxruntime", "weights"] == "constant"
    assert conv.loc["numpy", "weights"] == "per call" and math.isnan(conv.loc["numpy", "kernel_us"])
    timed_rows = table[table["correct"]]
    assert timed_rows["peak_fraction"].to_numpy() == pytest.approx(
        (timed_rows["gflops"] / timed_rows["peak_gflops"]).to_numpy())
    assert (table["isa_peak_gflops"] == isa.gflops).all()
    assert timed_rows["isa_peak_fraction"].to_numpy() == pytest.approx(
        (timed_rows["gflops"] / isa.gflops).to_numpy())

    curves = out.curves[out.curves["workload"] == wl.key]
    assert list(curves["trial"]) == list(range(1, before + 1))
    records = LogStore(log_dir).open(wl, cpu).database().get_all_tuning_records()
    assert curves["best_us"].iloc[-1] == pytest.approx(
        min(record_seconds(r) for r in records) * 1e6)
    results, curves_back = load_results([out.files[0]])
    pd.testing.assert_frame_equal(results[table.columns], table, check_dtype=False)
    assert len(curves_back) == len(out.curves)
    assert pd.read_parquet(out.files[2]).shape == table.shape


def test_without_pyarrow_the_csv_is_written_and_parquet_skipped(tmp_path, monkeypatch, capsys):
    """The core install has no pyarrow: the tables are CSV, with one line saying so."""
    import sys

    from autotune.benchmark.table import write_tables

    table = pd.DataFrame({"workload": ["a", "b"], "latency_us": [1.5, 2.0]})
    with monkeypatch.context() as patch:
        for name in ("pyarrow", "pyarrow.parquet"):
            patch.setitem(sys.modules, name, None)  # import pyarrow fails, as uninstalled
        files = write_tables(table, pd.DataFrame({"trial": [1]}), tmp_path, "suite")
    assert [f.name for f in files] == ["suite.csv", "suite-curves.csv"]
    assert not (tmp_path / "suite.parquet").exists()
    pd.testing.assert_frame_equal(pd.read_csv(files[0]), table)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "suite.parquet skipped: pyarrow is not installed" in err[0]
