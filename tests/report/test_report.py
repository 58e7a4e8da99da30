"""The report stage on a small synthetic results table: PNGs, report.md, and input errors."""

from __future__ import annotations

import math
import re

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from autotune.errors import AutotuneError
from autotune.report.markdown import write_report
from autotune.report.plots import curve_plots, roofline_plot, speedup_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PEAK_GFLOPS, PEAK_GBPS = 150.0, 40.0
COMMAND = "autotune bench --suite small --trials 64 --out results/run1"

# workload key, kernel, GFLOP, MB moved, median µs per implementation.
WORKLOADS = [
    ("conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32", "conv2d", 0.0165, 0.19,
     {"tvm-tuned": 180.0, "tvm-untuned": 2400.0, "numpy": 950.0, "torch": 260.0}),
    ("gemm-m64-n65-k66-float32", "gemm", 0.000549, 0.051,
     {"tvm-tuned": 9.5, "tvm-untuned": 61.0, "numpy": 14.2, "torch": 11.0}),
    ("softmax-m512-n1000-float32", "softmax", 0.00256, 4.096,
     {"tvm-tuned": 160.0, "tvm-untuned": 410.0, "numpy": 1400.0, "torch": 120.0}),
]
BASELINES = ("numpy", "torch")


def make_results() -> pd.DataFrame:
    rows = []
    for key, kernel, gflop, mbytes, medians in WORKLOADS:
        intensity = gflop * 1e9 / (mbytes * 1e6)
        roof = min(PEAK_GFLOPS, intensity * PEAK_GBPS)
        best_base = min(medians[b] for b in BASELINES)
        for impl, med in medians.items():
            gflops = gflop * 1e9 / (med * 1e-6) / 1e9
            tuned = impl == "tvm-tuned"
            row = dict(
                suite="small", workload=key, kernel=kernel, dtype="float32", implementation=impl,
                median_us=med, min_us=med * 0.97, max_us=med * 1.08, spread=0.11, samples=25,
                gflops=gflops, gbps=mbytes * 1e6 / (med * 1e-6) / 1e9, intensity=intensity,
                roofline_gflops=roof, roofline_fraction=gflops / roof,
                speedup_vs_best_baseline=best_base / med, correct=True, validated=tuned,
                trials=64 if tuned else 0, tuning_s=95.0 if tuned else 0.0,
                tvm_version="0.27.0", target="llvm-znver5-2c-f79f7f77",
                target_json='{"kind": "llvm", "mcpu": "znver5"}',
                host="AMD EPYC 9B45, 2 cores", threads=2, date="2025-06-01T12:00:00",
                peak_gflops=PEAK_GFLOPS, peak_gbps=PEAK_GBPS, command=COMMAND,
            )
            for b in BASELINES:
                row[f"speedup_vs_{b}"] = medians[b] / med
            rows.append(row)
    return pd.DataFrame(rows)


def make_curves() -> pd.DataFrame:
    rows = []
    for key, _, gflop, _, medians in WORKLOADS:
        rng = np.random.default_rng(len(key))
        best = math.inf
        for trial in range(1, 65):
            lat = medians["tvm-tuned"] * rng.uniform(1.0, 6.0) if trial % 9 else math.nan
            best = min(best, lat) if not math.isnan(lat) else best
            rows.append(dict(workload=key, trial=trial, elapsed_s=1.4 * trial, latency_us=lat,
                             best_us=best, best_gflops=gflop * 1e6 / best))
    return pd.DataFrame(rows)


def expected_geomean(results: pd.DataFrame) -> float:
    """Computed from the medians, not from the table's speedup column."""
    ratios = []
    for _, grp in results.groupby("workload"):
        by_impl = grp.set_index("implementation")["median_us"]
        ratios.append(min(by_impl[b] for b in BASELINES) / by_impl["tvm-tuned"])
    return float(np.exp(np.mean(np.log(ratios))))


def assert_png(path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and img.shape[0] >= 300 and img.shape[1] >= 600, img.shape
    assert float(img[..., :3].std()) > 0.05, f"{path} looks blank"


def test_write_report(tmp_path):
    results = make_results()
    report = write_report(results, tmp_path / "out", curves=make_curves())
    assert report == tmp_path / "out" / "report.md"
    text = report.read_text()

    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(images) == sorted(
        ["speedup.png", "roofline.png", "tuning_trials.png", "tuning_time.png"])
    for name in images:
        assert_png(report.parent / name)

    for key, *_ in WORKLOADS:
        assert f"`{key}`" in text
    gm = expected_geomean(results)
    assert f"{gm:.2f}x" in text
    assert re.search(r"Geometric-mean speedup[^\n]*\*\*" + re.escape(f"{gm:.2f}x"), text)
    assert "beats the best baseline on **2 of 3** workloads" in text
    assert "Workloads: **3**" in text
    assert COMMAND in text
    for fact in ("AMD EPYC 9B45, 2 cores", "llvm-znver5-2c-f79f7f77", "0.27.0",
                 "2025-06-01T12:00:00", "150.0 GFLOP/s", "40.0 GB/s", "Threads: 2"):
        assert fact in text, fact
    # The gemm row: best baseline torch at 11.0 µs, speedup 11.0 / 9.5.
    assert re.search(r"\| `gemm-m64-n65-k66-float32` \| gemm \| 9\.50 \| — \| — \| torch \| 11\.0 \| "
                     r"1\.16x \|", text)


def test_report_names_the_layout_variant_that_won(tmp_path):
    results = make_results().assign(variant="")
    conv = (results["kernel"] == "conv2d") & (results["implementation"] == "tvm-tuned")
    results.loc[conv, "variant"] = WORKLOADS[0][0].replace("conv2d-", "conv2d_nhwc-")
    results["call_overhead_us"] = np.where(results["implementation"] == "tvm-tuned", 2.5, np.nan)
    results["isa_peak_gflops"] = 300.0
    results["isa_peak_fraction"] = results["gflops"] / 300.0
    text = write_report(results, tmp_path / "out").read_text()
    assert f"| `{WORKLOADS[0][0]}` | conv2d (as conv2d_nhwc) | 180 | 2.5 |" in text
    assert "| `gemm-m64-n65-k66-float32` | gemm | 9.50 | 2.5 |" in text
    assert "- ISA peak: 300.0 GFLOP/s float32" in text
    gemm = results[(results["kernel"] == "gemm") & (results["implementation"] == "tvm-tuned")]
    torch = results[(results["kernel"] == "gemm") & (results["implementation"] == "torch")]
    isa = f"{100 * gemm['isa_peak_fraction'].item():.0f}% / {100 * torch['isa_peak_fraction'].item():.0f}%"
    assert isa in text.split("`gemm-m64-n65-k66-float32`")[1].split("\n")[0]


def test_write_report_from_files_without_curves(tmp_path):
    results = make_results()
    results.to_csv(tmp_path / "results.csv", index=False)
    results.to_parquet(tmp_path / "results.parquet", index=False)
    gm = f"{expected_geomean(results):.2f}x"
    for src in ("results.csv", "results.parquet"):
        out = tmp_path / src.replace(".", "_")
        report = write_report(tmp_path / src, out)
        text = report.read_text()
        assert gm in text
        assert "tuning_trials.png" not in text and not (out / "tuning_trials.png").exists()
        assert_png(out / "speedup.png")
        assert_png(out / "roofline.png")


def test_failed_or_wrong_tuned_kernels_left_out(tmp_path):
    results = make_results()
    tuned = results["implementation"] == "tvm-tuned"
    conv = tuned & results["workload"].str.startswith("conv2d")
    results.loc[conv, "correct"] = False  # Timed but wrong.
    gemm = tuned & results["workload"].str.startswith("gemm")
    timing = ["median_us", "min_us", "max_us", "gflops", "roofline_fraction",
              "speedup_vs_numpy", "speedup_vs_torch", "speedup_vs_best_baseline"]
    results.loc[gemm, timing] = np.nan  # Not timed, as bench writes it.
    results.loc[gemm, ["correct", "validated"]] = False
    results["error"] = np.where(gemm, "no validated record", "")
    report = write_report(results, tmp_path)
    text = report.read_text()
    softmax = results[results["workload"].str.startswith("softmax")]
    assert "**0.75x** (over 1 workload)" in text
    assert f"**{expected_geomean(softmax):.2f}x**" in text
    assert "beats the best baseline on **0 of 1** workloads" in text
    assert text.count("Left out of the speedup summary: 1 workload(s)") == 2
    assert "| no validated record |" in text
    assert_png(tmp_path / "speedup.png")


def test_gpu_run_without_peaks_skips_roofline(tmp_path):
    results = make_results().assign(peak_gflops=np.nan, peak_gbps=np.nan,
                                    roofline_gflops=np.nan, roofline_fraction=np.nan)
    text = write_report(results, tmp_path).read_text()
    assert "Measured peaks: not measured" in text
    assert "roofline.png" not in text and not (tmp_path / "roofline.png").exists()
    assert_png(tmp_path / "speedup.png")
    with pytest.raises(AutotuneError, match="peak_gflops"):
        roofline_plot(results, tmp_path / "r.png")


def test_empty_curves_skip_curve_plots(tmp_path):
    empty = make_curves().iloc[0:0]
    assert curve_plots(empty, tmp_path / "a.png", tmp_path / "b.png") == []
    assert not (tmp_path / "a.png").exists()
    pd.DataFrame().to_csv(tmp_path / "curves.csv", index=False)  # What bench writes then.
    for curves in (empty, pd.DataFrame(), tmp_path / "curves.csv"):
        report = write_report(make_results(), tmp_path / "out", curves=curves)
        assert "tuning_time.png" not in report.read_text()
        assert not (tmp_path / "out" / "tuning_time.png").exists()


@pytest.mark.parametrize("drop", ["median_us", "command", "peak_gbps", "implementation"])
def test_missing_column_raises(tmp_path, drop):
    with pytest.raises(AutotuneError, match=drop):
        write_report(make_results().drop(columns=[drop]), tmp_path)


def test_empty_table_raises(tmp_path):
    empty = make_results().iloc[0:0]
    with pytest.raises(AutotuneError, match="no rows"):
        write_report(empty, tmp_path)
    for plot in (speedup_plot, roofline_plot):
        with pytest.raises(AutotuneError, match="no rows"):
            plot(empty, tmp_path / "x.png")
    assert not (tmp_path / "report.md").exists()


def test_plot_input_errors(tmp_path):
    with pytest.raises(AutotuneError, match="best_gflops"):
        curve_plots(make_curves().drop(columns=["best_gflops"]), tmp_path / "a.png",
                    tmp_path / "b.png")
    untuned = make_results().query("implementation != 'tvm-tuned'")
    with pytest.raises(AutotuneError, match="tvm-tuned"):
        speedup_plot(untuned, tmp_path / "s.png")
    with pytest.raises(AutotuneError, match="does not exist"):
        write_report(tmp_path / "missing.csv", tmp_path)
    twice = pd.concat([make_results(), make_results()])
    with pytest.raises(AutotuneError, match="repeated"):
        write_report(twice, tmp_path)


def test_report_flags_tuned_kernels_slower_than_untuned(tmp_path):
    results = make_results()
    assert "slower than TVM's untuned" not in write_report(results, tmp_path).read_text()
    gemm_untuned = (results["implementation"] == "tvm-untuned") & \
        results["workload"].str.startswith("gemm")
    results.loc[gemm_untuned, "median_us"] = 5.0  # faster than the tuned 9.5 us
    text = write_report(results, tmp_path).read_text()
    assert ("tvm-tuned is slower than TVM's untuned kernel on **1** workload(s), which need "
            "more trials: `gemm-m64-n65-k66-float32`") in text
