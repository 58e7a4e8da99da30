"""NumPy on the CPU: BLAS GEMM, conv2d as im2col + one GEMM per group, ufuncs for vector ops.

Outputs go to preallocated arrays where NumPy allows it, as the TVM kernels' do.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..measure import Prepared
from ..workload import Workload
from .base import Baseline


class NumpyBaseline(Baseline):
    name = "numpy"
    device = "cpu"
    kernels = frozenset({"conv2d", "gemm", "add", "fma", "sum", "softmax"})

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        fn = numpy_kernel(workload)
        spec = workload.output_spec
        outs = [np.empty(spec.shape, spec.dtype) for _ in sets]
        return Prepared(
            calls=[partial(fn, *inputs, out=out) for inputs, out in zip(sets, outs)],
            output=lambda i: outs[i],
        )


def numpy_kernel(workload: Workload) -> Callable[..., np.ndarray]:
    """``fn(*inputs, out=array)`` computing ``workload`` in its own dtype with NumPy."""
    kind = workload.kernel
    if kind == "conv2d":
        return partial(_conv2d_im2col, workload.params)
    return {
        "gemm": np.matmul,
        "add": np.add,
        "fma": _fma,
        "sum": _sum,
        "softmax": _softmax,
    }[kind]


def _fma(a: np.ndarray, x: np.ndarray, y: np.ndarray, *, out: np.ndarray) -> np.ndarray:
    np.multiply(a, x, out=out)
    return np.add(out, y, out=out)


def _sum(x: np.ndarray, *, out: np.ndarray) -> np.ndarray:
    return np.add.reduce(x, keepdims=True, out=out)


def _softmax(x: np.ndarray, *, out: np.ndarray) -> np.ndarray:
    np.subtract(x, x.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    return np.divide(out, out.sum(axis=1, keepdims=True), out=out)


def _conv2d_im2col(p: dict, x: np.ndarray, w: np.ndarray, *, out: np.ndarray) -> np.ndarray:
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    n, k, oh, ow = out.shape
    g, kh, kw = p["groups"], p["kh"], p["kw"]
    c = x.shape[1]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    s = xp.strides
    # cols[n, c, kh, kw, oh, ow] is a strided view: no copy until the reshape below.
    cols = as_strided(
        xp,
        shape=(n, c, kh, kw, oh, ow),
        strides=(s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw),
        writeable=False,
    )
    cg, kg = c // g, k // g
    cols = cols.reshape(n, g, cg * kh * kw, oh * ow)
    wg = w.reshape(g, kg, cg * kh * kw)
    np.matmul(wg[None], cols, out=out.reshape(n, g, kg, oh * ow))  # one GEMM per group
    return out
