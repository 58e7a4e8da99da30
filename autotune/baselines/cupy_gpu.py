"""CuPy on an NVIDIA GPU: cuBLAS GEMM (``cupy.matmul``), conv2d as im2col + one batched
cuBLAS GEMM per group, CuPy's elementwise and reduction kernels for vector ops.

Inputs are copied to the GPU once per input set; outputs go to preallocated device arrays.
Timed with CUDA events, like the TVM kernels on the same GPU.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..cuda import EventClock, cupy, cupy_reason
from ..measure import Prepared
from ..workload import Workload
from .base import Baseline


class CupyBaseline(Baseline):
    name = "cupy"
    device = "cuda"
    kernels = frozenset({"conv2d", "gemm", "add", "fma", "sum", "softmax"})

    def unavailable(self) -> str | None:
        return cupy_reason()

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        cp = cupy()
        fn = cupy_kernel(cp, workload)
        spec = workload.output_spec
        inputs = [[cp.asarray(x) for x in arrays] for arrays in sets]
        outs = [cp.empty(spec.shape, spec.dtype) for _ in sets]
        return Prepared(
            calls=[partial(fn, *x, out=out) for x, out in zip(inputs, outs)],
            output=lambda i: cp.asnumpy(outs[i]),
            clock=EventClock(),
        )


def cupy_kernel(cp, workload: Workload):
    """``fn(*inputs, out=array)`` computing ``workload`` with CuPy on the current GPU."""
    if workload.kernel == "conv2d":
        return partial(_conv2d_im2col, cp, workload.params)
    return {
        "gemm": cp.matmul,
        "add": cp.add,
        "fma": partial(_fma, cp),
        "sum": partial(_sum, cp),
        "softmax": partial(_softmax, cp),
    }[workload.kernel]


def _fma(cp, a, x, y, *, out):
    cp.multiply(a, x, out=out)
    return cp.add(out, y, out=out)


def _sum(cp, x, *, out):
    return cp.sum(x, keepdims=True, out=out)


def _softmax(cp, x, *, out):
    cp.subtract(x, x.max(axis=1, keepdims=True), out=out)
    cp.exp(out, out=out)
    return cp.divide(out, out.sum(axis=1, keepdims=True), out=out)


def _conv2d_im2col(cp, p: dict, x, w, *, out):
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    n, k, oh, ow = out.shape
    g, kh, kw = p["groups"], p["kh"], p["kw"]
    c = x.shape[1]
    xp = cp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    s = xp.strides
    cols = cp.lib.stride_tricks.as_strided(
        xp,
        shape=(n, c, kh, kw, oh, ow),
        strides=(s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw),
    )
    cg, kg = c // g, k // g
    cols = cols.reshape(n, g, cg * kh * kw, oh * ow)  # copies: the im2col buffer
    wg = w.reshape(g, kg, cg * kh * kw)
    cp.matmul(wg[None], cols, out=out.reshape(n, g, kg, oh * ow))
    return out
