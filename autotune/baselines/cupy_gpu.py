"""CuPy on an NVIDIA GPU: the NumPy baseline's calls (``array_kernels``) on the GPU, so cuBLAS
GEMM (``cupy.matmul``), conv2d as im2col + one batched cuBLAS GEMM per group, CuPy's
elementwise and reduction kernels for vector ops.

Inputs are copied to the GPU once per input set; outputs go to preallocated device arrays.
Timed with CUDA events, like the TVM kernels on the same GPU.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autotune.baselines.array_kernels import array_kernel
from autotune.baselines.base import Baseline
from autotune.hardware.cuda import EventClock, cupy, cupy_reason
from autotune.measure.protocol import Prepared
from autotune.workload import Workload


class CupyBaseline(Baseline):
    name = "cupy"
    device = "cuda"
    kernels = frozenset({"conv2d", "gemm", "add", "fma", "sum", "softmax"})

    def unavailable(self) -> str | None:
        return cupy_reason()

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        cp = cupy()
        fn = array_kernel(cp, workload)
        spec = workload.output_spec
        inputs = [[cp.asarray(x) for x in arrays] for arrays in sets]
        outs = [cp.empty(spec.shape, spec.dtype) for _ in sets]
        return Prepared(
            calls=[partial(fn, *x, out=out) for x, out in zip(inputs, outs)],
            output=lambda i: cp.asnumpy(outs[i]),
            clock=EventClock(),
        )
