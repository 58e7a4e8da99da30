"""Each workload in array-library calls, for NumPy (``xp=numpy``) and CuPy (``xp=cupy``) alike.

conv2d is im2col (a strided view, copied once by the reshape) and one batched GEMM per
group, then its epilogue's steps in place; vector ops are ufuncs and reductions. Every function writes into ``out``.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

from autotune.kernels.conv2d import epilogue_steps
from autotune.workload import Workload


def array_kernel(xp, workload: Workload) -> Callable:
    """``fn(*inputs, out=array)`` computing ``workload`` in its own dtype with ``xp``."""
    if workload.kernel == "conv2d":
        return partial(_conv2d_im2col, xp, workload.params)
    return {
        "gemm": xp.matmul,
        "add": xp.add,
        "fma": partial(_fma, xp),
        "sum": partial(_sum, xp),
        "softmax": partial(_softmax, xp),
    }[workload.kernel]


def _fma(xp, a, x, y, *, out):
    xp.multiply(a, x, out=out)
    return xp.add(out, y, out=out)


def _sum(xp, x, *, out):
    return xp.sum(x, keepdims=True, out=out)


def _softmax(xp, x, *, out):
    xp.subtract(x, x.max(axis=1, keepdims=True), out=out)
    xp.exp(out, out=out)
    return xp.divide(out, out.sum(axis=1, keepdims=True), out=out)


def _conv2d_im2col(xp, p: dict, x, w, *epilogue_inputs, out):
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    n, k, oh, ow = out.shape
    g, kh, kw = p["groups"], p["kh"], p["kw"]
    c = x.shape[1]
    xp_ = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    s = xp_.strides
    # cols[n, c, kh, kw, oh, ow] is a strided view (read only): no copy until the reshape.
    cols = xp.lib.stride_tricks.as_strided(
        xp_,
        shape=(n, c, kh, kw, oh, ow),
        strides=(s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw),
    )
    cg, kg = c // g, k // g
    cols = cols.reshape(n, g, cg * kh * kw, oh * ow)
    wg = w.reshape(g, kg, cg * kh * kw)
    xp.matmul(wg[None], cols, out=out.reshape(n, g, kg, oh * ow))  # one GEMM per group
    return _epilogue(xp, p, out, list(epilogue_inputs))


def _epilogue(xp, p: dict, out, inputs: list):
    """A conv's epilogue steps (``epilogue="bias+add+relu"``) in place on ``out``."""
    for step in epilogue_steps(p):
        if step == "bias":
            xp.add(out, inputs.pop(0).reshape(1, -1, 1, 1), out=out)
        elif step == "add":
            xp.add(out, inputs.pop(0), out=out)
        elif step == "relu":
            xp.maximum(out, 0, out=out)
        elif step == "relu6":
            xp.clip(out, 0, 6, out=out)
        elif step == "hardswish":
            xp.multiply(out, xp.clip(out + 3, 0, 6) / 6, out=out)
        else:  # silu, sigmoid as 0.5 (1 + tanh(x / 2))
            xp.multiply(out, 0.5 * (1 + xp.tanh(out * 0.5)), out=out)
    return out
