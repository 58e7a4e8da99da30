"""NumPy on the CPU: BLAS GEMM, conv2d as im2col + one GEMM per group, ufuncs for vector ops.

Outputs go to preallocated arrays where NumPy allows it, as the TVM kernels' do.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autotune.baselines.array_kernels import array_kernel
from autotune.baselines.base import Baseline
from autotune.measure.protocol import Prepared
from autotune.workload import Workload


class NumpyBaseline(Baseline):
    name = "numpy"
    device = "cpu"
    kernels = frozenset({"conv2d", "gemm", "add", "fma", "sum", "softmax"})

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        fn = array_kernel(np, workload)
        spec = workload.output_spec
        outs = [np.empty(spec.shape, spec.dtype) for _ in sets]
        return Prepared(
            calls=[partial(fn, *inputs, out=out) for inputs, out in zip(sets, outs)],
            output=lambda i: outs[i],
        )
