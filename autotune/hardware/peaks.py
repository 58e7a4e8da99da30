"""The machine's ceilings, measured in the same run: float32 GEMM rate and memory bandwidth.

Peak compute: a large SGEMM through the fastest library at hand (NumPy's BLAS, ONNX
Runtime's MLAS, and PyTorch's when loaded); a hand-written kernel may beat it, so a roofline
fraction above 1 means "faster than the vendor SGEMM rate", not faster than the FMA units
(``isa_peak`` gives that bound). Peak bandwidth: STREAM-style copy and
triad kernels built with TVM (parallel, vectorised), on arrays far larger than the caches,
counting bytes as STREAM does (copy 8 B, triad 12 B per float32 element). Both use the same
protocol and thread count as every other measurement.

On an NVIDIA GPU (through CuPy, timed with CUDA events): an 8192^3 float32 cuBLAS GEMM
(no TF32: ``autotune.hardware.cuda``) and copy/triad on 256 MiB arrays, counted the same way.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
import tvm
from tvm.script import tirx as T

from autotune.measure.protocol import Clock, Prepared, Protocol, last_level_cache_bytes, measure


@dataclass(frozen=True)
class Peaks:
    """Ceilings for the roofline: GFLOP/s and GB/s, and what each was measured with."""

    gflops: float
    gbps: float
    sgemm_n: int
    sgemm_library: str
    stream_bytes: int
    copy_gbps: float
    triad_gbps: float

    def to_json(self) -> dict:
        return asdict(self)

    def bound(self, intensity: float) -> float:
        """Roofline bound in GFLOP/s for a kernel of ``intensity`` FLOP per byte."""
        return min(self.gflops, intensity * self.gbps)


def measure_peaks(
    target: tvm.target.Target, sgemm_n: int = 2048, protocol: Protocol | None = None
) -> Peaks | None:
    """Measure both ceilings of the device ``target`` runs on (None: GPU without CuPy)."""
    protocol = protocol or Protocol(repeat=10, max_sets=1)
    if target.kind.name == "cuda":
        return measure_gpu_peaks(protocol=protocol)
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (sgemm_n, sgemm_n)).astype("float32") for _ in range(2))
    out = np.empty_like(a)
    rates = {"numpy": measure(Prepared([lambda: np.matmul(a, b, out=out)], lambda i: out),
                              protocol).median}
    if "torch" in sys.modules:  # oneDNN/MKL may beat OpenBLAS: the ceiling is the best BLAS
        torch = sys.modules["torch"]
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        rates["torch"] = measure(
            Prepared([lambda: torch.matmul(ta, tb, out=tout)], lambda i: out), protocol).median
    mlas = _onnxruntime_sgemm(a, b, out, protocol)
    if mlas is not None:
        rates["onnxruntime"] = mlas
    sgemm_library = min(rates, key=rates.get)
    elements = max(1 << 24, last_level_cache_bytes())  # per array: 4x the LLC, 64 MiB at least
    copy_s, triad_s = _stream(target, elements, protocol)
    copy, triad = 8 * elements / copy_s / 1e9, 12 * elements / triad_s / 1e9
    return Peaks(
        gflops=2 * sgemm_n**3 / rates[sgemm_library] / 1e9,
        sgemm_library=sgemm_library,
        gbps=max(copy, triad),
        sgemm_n=sgemm_n,
        stream_bytes=4 * elements,
        copy_gbps=copy,
        triad_gbps=triad,
    )


def _onnxruntime_sgemm(a: np.ndarray, b: np.ndarray, out: np.ndarray,
                       protocol: Protocol) -> float | None:
    """Seconds of ONNX Runtime's MatMul (MLAS) on ``a @ b``, or None without ONNX Runtime."""
    from autotune.baselines.onnxruntime_cpu import OnnxRuntimeBaseline  # pylint: disable=import-outside-toplevel
    from autotune.workload import Workload  # pylint: disable=import-outside-toplevel

    baseline = OnnxRuntimeBaseline()
    if baseline.unavailable():
        return None
    wl = Workload("gemm", m=a.shape[0], n=b.shape[1], k=a.shape[1])
    prepared = baseline.prepare(wl, [[a, b]])
    return measure(prepared, protocol).median


def _stream(target: tvm.target.Target, n: int, protocol: Protocol) -> tuple[float, float]:
    lanes = 16
    chunks = n // lanes

    @T.prim_func
    def copy(a: T.Buffer((n,), "float32"), c: T.Buffer((n,), "float32")):
        T.func_attr({"global_symbol": "copy", "tirx.noalias": True})
        for i in T.parallel(chunks):
            for j in T.vectorized(lanes):
                c[i * lanes + j] = a[i * lanes + j]

    @T.prim_func
    def triad(a: T.Buffer((n,), "float32"), b: T.Buffer((n,), "float32"),
              c: T.Buffer((n,), "float32")):
        T.func_attr({"global_symbol": "triad", "tirx.noalias": True})
        for i in T.parallel(chunks):
            for j in T.vectorized(lanes):
                a[i * lanes + j] = b[i * lanes + j] + T.float32(3.0) * c[i * lanes + j]

    lib = tvm.compile(tvm.IRModule({"copy": copy, "triad": triad}), target=target).jit()
    dev = tvm.cpu()
    x, y, z = (tvm.runtime.tensor(np.ones(n, "float32"), dev) for _ in range(3))
    copy_t = measure(Prepared([lambda: lib["copy"](x, y)], lambda i: y.numpy(), Clock()), protocol)
    triad_t = measure(Prepared([lambda: lib["triad"](x, y, z)], lambda i: x.numpy(), Clock()),
                      protocol)
    result = x.numpy()[:4]
    if not np.allclose(result, 4.0):
        raise RuntimeError(f"STREAM triad computed {result}, expected 4.0")
    return copy_t.median, triad_t.median


def measure_gpu_peaks(sgemm_n: int = 8192, elements: int = 1 << 26,
                      protocol: Protocol | None = None) -> Peaks | None:
    """Both ceilings of the current CUDA GPU through CuPy, or None where CuPy cannot run."""
    from autotune.hardware.cuda import EventClock, cupy, cupy_reason  # pylint: disable=import-outside-toplevel

    if cupy_reason():
        return None
    cp, protocol = cupy(), protocol or Protocol(repeat=10, max_sets=1)
    a, b = (cp.random.uniform(-1, 1, (sgemm_n, sgemm_n), dtype=cp.float32) for _ in range(2))
    out = cp.empty_like(a)
    gemm = measure(Prepared([lambda: cp.matmul(a, b, out=out)], lambda i: out, EventClock()),
                   protocol)
    x, y, z = (cp.ones(elements, cp.float32) for _ in range(3))
    triad_kernel = cp.ElementwiseKernel("float32 b, float32 c", "float32 a",
                                        "a = b + 3.0f * c", "autotune_triad")
    copy = measure(Prepared([lambda: cp.copyto(y, x)], lambda i: y, EventClock()), protocol)
    triad = measure(Prepared([lambda: triad_kernel(y, z, x)], lambda i: x, EventClock()),
                    protocol)
    if not bool(cp.allclose(x[:4], 4.0)):
        raise RuntimeError(f"GPU triad computed {cp.asnumpy(x[:4])}, expected 4.0")
    copy_gbps, triad_gbps = 8 * elements / copy.median / 1e9, 12 * elements / triad.median / 1e9
    return Peaks(gflops=2 * sgemm_n**3 / gemm.median / 1e9, gbps=max(copy_gbps, triad_gbps),
                 sgemm_n=sgemm_n, sgemm_library="cupy (cuBLAS)", stream_bytes=4 * elements,
                 copy_gbps=copy_gbps, triad_gbps=triad_gbps)
