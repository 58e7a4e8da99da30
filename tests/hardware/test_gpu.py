"""The NVIDIA GPU path: CUDA-event timing, GPU ceilings, tuning, baselines and packages.

Without a GPU (or CuPy) the GPU tests are skipped, and the GPU baselines must say why in
one line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tvm

import autotune
from autotune.baselines import BASELINES, baselines_for
from autotune.hardware.cuda import EventClock, cupy, cupy_reason
from autotune.hardware.peaks import measure_gpu_peaks
from autotune.logs.store import LogStore
from autotune.measure.compare import compare_workload
from autotune.measure.compile import protocol_for
from autotune.measure.protocol import Prepared, Protocol, measure
from autotune.search.options import SearchOptions

GPU_REASON = cupy_reason() or (None if tvm.cuda(0).exist else "TVM sees no CUDA GPU")


def needs_gpu(test):
    """Marked ``gpu``, and skipped (with the reason) where no GPU and CuPy can run it."""
    skip = pytest.mark.skipif(GPU_REASON is not None, reason=f"no GPU: {GPU_REASON}")
    return pytest.mark.gpu(skip(test))


def test_gpu_baselines_say_why_they_cannot_run():
    for baseline in baselines_for("cuda"):
        reason = baseline.unavailable()
        if GPU_REASON and cupy_reason():
            assert reason and "\n" not in reason and len(reason) < 200, baseline.name
        else:
            assert reason is None or "\n" not in reason


@pytest.fixture(scope="module")
def cuda():
    return autotune.resolve_target("cuda")


@needs_gpu
def test_event_clock_times_gpu_work_not_launches():
    cp = cupy()
    spin = cp.RawKernel(r"""
    extern "C" __global__ void spin(long long ns) {
        long long t0, t;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
        do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
    }""", "spin")
    spin((1,), (1,), (np.int64(1000),))  # compiles the kernel
    cp.cuda.Device().synchronize()
    clock = EventClock()
    for ns in (200_000, 2_000_000):  # 0.2 ms and 2 ms of GPU time, launched in microseconds
        clock.start()
        spin((1,), (1,), (np.int64(ns),))
        seconds = clock.stop()
        # The kernel spins at least ns; the start event may also see the launch (tens of us).
        assert ns * 1e-9 - 2e-6 <= seconds < ns * 1e-9 + 100e-6  # 2 us: the timer's tick


@needs_gpu
def test_gpu_peaks_are_plausible():
    peaks = measure_gpu_peaks(sgemm_n=4096, elements=1 << 25,
                              protocol=Protocol(repeat=5, max_sets=1))
    print(json.dumps(peaks.to_json()))
    assert 1e3 < peaks.gflops < 2e5  # float32 without TF32: TFLOP/s, not PFLOP/s
    assert 100 < peaks.gbps < 2e4


@pytest.mark.tuning
@needs_gpu
def test_tune_gemm_on_the_gpu_and_compare_with_cublas(cuda, tmp_path):
    wl = autotune.Workload("gemm", m=37, n=53, k=29)
    result = autotune.tune(wl, cuda, trials=16, log_dir=tmp_path, progress=False,
                           search=SearchOptions(trials_per_iter=16, seed=0, population=64))
    assert result.validated and result.records == 16 and result.latency_s > 0
    rows = {r["implementation"]: r for r in compare_workload(
        wl, LogStore(tmp_path), cuda, baselines_for("cuda"), protocol_for(cuda))}
    print({name: (row["median_us"], row["error"]) for name, row in rows.items()})
    assert set(rows) == {"tvm-tuned", "tvm-untuned", "cupy"}
    assert all(row["correct"] for row in rows.values())


@needs_gpu
def test_untuned_conv_and_cudnn_agree_with_the_reference(cuda, tmp_path):
    wl = autotune.Workload("conv2d", n=2, c=19, h=13, w=7, k=31, kh=5, kw=3, stride=(2, 1),
                           padding=(2, 1), dilation=(1, 2))
    rows = {r["implementation"]: r for r in compare_workload(
        wl, LogStore(tmp_path), cuda, baselines_for("cuda"), protocol_for(cuda))}
    print({name: (row["median_us"], row["error"]) for name, row in rows.items()})
    assert rows["tvm-untuned"]["correct"] and rows["cupy"]["correct"]
    cudnn = BASELINES["cudnn"].unavailable()
    if cudnn:
        pytest.skip(f"cuDNN baseline: {cudnn}")
    assert rows["cudnn"]["correct"], rows["cudnn"]["error"]


PACKAGE_USER = """
import sys, numpy as np, autotune
pkg = autotune.load_package(sys.argv[1])
assert "autotune.search.tune" not in sys.modules
x = [np.random.default_rng(2).uniform(-1, 1, s["shape"]).astype(s["dtype"])
     for s in pkg.kernels[sys.argv[2]].entry["inputs"]]
np.save(sys.argv[3], pkg[sys.argv[2]](*x))
np.savez(sys.argv[4], *x)
"""


@pytest.mark.tuning
@needs_gpu
def test_gpu_package_runs_in_a_fresh_process(cuda, tmp_path):
    wl = autotune.Workload("add", n=1001)
    autotune.tune(wl, cuda, trials=8, log_dir=tmp_path / "logs", progress=False,
                  search=SearchOptions(trials_per_iter=8, seed=0, population=64))
    out = autotune.export([wl], cuda, tmp_path / "logs", tmp_path / "pkg")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["kind"] == "cuda" and manifest["kernels"][0]["validated"]
    y, x = tmp_path / "y.npy", tmp_path / "x.npz"
    subprocess.run([sys.executable, "-c", PACKAGE_USER, str(out), wl.key, str(y), str(x)],
                   check=True)
    assert wl.check(np.load(y), list(np.load(x).values())) is None


@needs_gpu
def test_gpu_measurement_rotates_inputs_past_the_l2(cuda):
    protocol = protocol_for(cuda)
    assert protocol.flush_bytes >= 2 * 16 << 20  # H100: 50 MiB of L2
    cp = cupy()
    x = cp.ones(1 << 20, cp.float32)
    t = measure(Prepared([lambda: cp.add(x, x)], lambda i: x, EventClock()),
                Protocol(repeat=5, max_sets=1))
    assert 0 < t.median < 1e-3
