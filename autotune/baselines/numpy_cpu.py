"""NumPy baselines: BLAS GEMM, conv2d as im2col + GEMM per group, ufuncs for vector ops."""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..workload import Workload


def numpy_kernel(workload: Workload) -> Callable[..., np.ndarray]:
    """A NumPy function computing ``workload`` in its own dtype (not the float64 reference)."""
    p = workload.params
    kind = workload.kernel
    if kind == "gemm":
        return np.matmul
    if kind == "add":
        return np.add
    if kind == "fma":
        return lambda a, x, y: a * x + y
    if kind == "sum":
        return lambda x: np.sum(x, keepdims=True)
    if kind == "softmax":
        return _softmax
    if kind == "conv2d":
        return lambda x, w: _conv2d_im2col(p, workload.output_spec.shape, x, w)
    raise NotImplementedError(f"no NumPy baseline for kernel {kind!r}")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _conv2d_im2col(p: dict, out_shape: tuple, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    n, k, oh, ow = out_shape
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
    out = np.matmul(wg[None], cols)  # (n, g, kg, oh*ow): one GEMM per group
    return out.reshape(n, k, oh, ow)
