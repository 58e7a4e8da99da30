"""2-D convolution, NCHW input and OIHW weights, with stride, padding, dilation and groups.

An optional epilogue runs in the convolution's output loop, as a network's conv is
followed by its bias, a residual add and an activation (ReLU, ReLU6, SiLU x * sigmoid(x), or
hard swish x * relu6(x + 3) / 6):
``epilogue="bias+add+relu"`` adds
the inputs ``B`` (k,) and ``R`` (the output's shape) after the weights, and applies its
steps left to right. The epilogue is a block of the kernel ("epilogue"), tuned with it
(MetaSchedule fuses it into the conv's output tiles); without one the kernel is the plain
conv and its key is the same as before epilogues existed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from tvm import tirx
from tvm.script import tirx as T

from autotune.errors import WorkloadError
from autotune.workload import tir_math
from autotune.workload.depthwise_sketch import depthwise_sketches
from autotune.workload.template import KernelTemplate, Param, TensorSpec, require_positive

EPILOGUE_STEPS = ("bias", "add", "relu", "relu6", "silu", "hardswish")
# silu: x * sigmoid(x) (EfficientNet's swish); hardswish: x * relu6(x + 3) / 6 (MobileNetV3's)
ACTIVATIONS = ("relu", "relu6", "silu", "hardswish")


def _out_size(size: int, k: int, stride: int, pad: int, dil: int) -> int:
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


class ConvDims(NamedTuple):
    """A conv2d workload's sizes, as every conv2d template's prim func uses them."""

    n: int
    c: int
    h: int
    w: int
    k: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    g: int
    dtype: str
    cg: int  # input channels per group
    kg: int  # output channels per group
    oh: int
    ow: int
    hp: int  # padded input height
    wp: int  # padded input width


def pad_nchw(d: ConvDims, width: int | None = None):
    """The block that zero-pads the NCHW input ``X`` into ``Xp`` (the conv2d templates'
    "pad" block, written once; a macro, so every module is as if written out), its rows
    ``width`` wide (the padded input's, ``d.wp``, unless a template reads further)."""
    n, c, h, w, ph, pw, hp, dtype = d.n, d.c, d.h, d.w, d.ph, d.pw, d.hp, d.dtype
    wp = d.wp if width is None else width

    @T.macro
    def pad(X, Xp):
        for i0, i1, i2, i3 in T.grid(n, c, hp, wp):
            with T.sblock("pad"):
                v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                Xp[v0, v1, v2, v3] = T.if_then_else(
                    ph <= v2 and v2 < h + ph and pw <= v3 and v3 < w + pw,
                    X[v0, v1, v2 - ph, v3 - pw],
                    T.cast(0, dtype),
                )

    return pad


def unpack_nchw(d: ConvDims, channels: int, block: int):
    """The block that writes a channel-blocked output ``Yb`` (N, C/block, H, W, block) back
    to NCHW ``Y`` ("unpack"), for the blocked layout variants."""
    n, oh, ow = d.n, d.oh, d.ow

    @T.macro
    def unpack(Yb, Y):
        for i0, i1, i2, i3 in T.grid(n, channels, oh, ow):
            with T.sblock("unpack"):
                v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                Y[v0, v1, v2, v3] = Yb[v0, v1 // block, v2, v3, v1 % block]

    return unpack


def is_depthwise(p: dict[str, Any]) -> bool:
    """Whether conv2d parameters ``p`` are a depthwise conv (groups = c = k)."""
    return p["groups"] == p["c"] == p["k"]


def epilogue_steps(p: dict[str, Any]) -> list[str]:
    """The epilogue's steps in order (empty for a plain conv)."""
    return p["epilogue"].split("+") if p["epilogue"] else []


def _finish(steps: list[str], dtype: str):
    """``finish(acc, bias, residual)``: the epilogue's steps applied to one output element."""
    zero, three, six = tirx.const(0, dtype), tirx.const(3, dtype), tirx.const(6, dtype)
    sixth = tirx.const(1 / 6, dtype)

    def finish(value, bias, residual):
        for step in steps:
            if step == "bias":
                value = value + bias
            elif step == "add":
                value = value + residual
            elif step == "relu":
                value = tirx.max(value, zero)
            elif step == "relu6":
                value = tirx.min(tirx.max(value, zero), six)
            elif step == "hardswish":
                value = value * tirx.min(tirx.max(value + three, zero), six) * sixth
            else:  # silu, its exp in arithmetic so that the output loop vectorises
                value = value * tirx.Cast(dtype, tir_math.sigmoid(value))
        return value

    return finish


def with_epilogue(d: ConvDims, steps: list[str], body):
    """The kernel: ``body(X, W, Y)`` (the conv, writing NCHW ``Y``), then the epilogue.

    Without steps the kernel is ``body`` alone. With them the conv writes ``Yc`` and the
    "epilogue" block computes ``Y`` from it, the bias ``B`` (k,) and the residual ``R``.
    """
    n, c, h, w, k, kh, kw, cg, oh, ow, dtype = d.n, d.c, d.h, d.w, d.k, d.kh, d.kw, d.cg, d.oh, d.ow, d.dtype
    bias, add = "bias" in steps, "add" in steps
    finish = _finish(steps, dtype)

    @T.macro
    def epilogue(Yc, B, R, Y):
        for i0, i1, i2, i3 in T.grid(n, k, oh, ow):
            with T.sblock("epilogue"):
                v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                if bias and add:
                    Y[v0, v1, v2, v3] = finish(Yc[v0, v1, v2, v3], B[v1], R[v0, v1, v2, v3])
                elif bias:
                    Y[v0, v1, v2, v3] = finish(Yc[v0, v1, v2, v3], B[v1], None)
                elif add:
                    Y[v0, v1, v2, v3] = finish(Yc[v0, v1, v2, v3], None, R[v0, v1, v2, v3])
                else:
                    Y[v0, v1, v2, v3] = finish(Yc[v0, v1, v2, v3], None, None)

    if not steps:
        @T.prim_func(s_tir=True)
        def conv(X: T.Buffer((n, c, h, w), dtype), W: T.Buffer((k, cg, kh, kw), dtype),
                 Y: T.Buffer((n, k, oh, ow), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            body(X, W, Y)
    elif bias and add:
        @T.prim_func(s_tir=True)
        def conv(X: T.Buffer((n, c, h, w), dtype), W: T.Buffer((k, cg, kh, kw), dtype),
                 B: T.Buffer((k,), dtype), R: T.Buffer((n, k, oh, ow), dtype),
                 Y: T.Buffer((n, k, oh, ow), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Yc = T.sblock_alloc_buffer((n, k, oh, ow), dtype)
            body(X, W, Yc)
            epilogue(Yc, B, R, Y)
    elif bias:
        @T.prim_func(s_tir=True)
        def conv(X: T.Buffer((n, c, h, w), dtype), W: T.Buffer((k, cg, kh, kw), dtype),
                 B: T.Buffer((k,), dtype), Y: T.Buffer((n, k, oh, ow), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Yc = T.sblock_alloc_buffer((n, k, oh, ow), dtype)
            body(X, W, Yc)
            epilogue(Yc, B, None, Y)
    elif add:
        @T.prim_func(s_tir=True)
        def conv(X: T.Buffer((n, c, h, w), dtype), W: T.Buffer((k, cg, kh, kw), dtype),
                 R: T.Buffer((n, k, oh, ow), dtype), Y: T.Buffer((n, k, oh, ow), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Yc = T.sblock_alloc_buffer((n, k, oh, ow), dtype)
            body(X, W, Yc)
            epilogue(Yc, None, R, Y)
    else:
        @T.prim_func(s_tir=True)
        def conv(X: T.Buffer((n, c, h, w), dtype), W: T.Buffer((k, cg, kh, kw), dtype),
                 Y: T.Buffer((n, k, oh, ow), dtype)):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Yc = T.sblock_alloc_buffer((n, k, oh, ow), dtype)
            body(X, W, Yc)
            epilogue(Yc, None, None, Y)

    return conv


def apply_epilogue(steps: list[str], out: np.ndarray, bias=None, residual=None) -> np.ndarray:
    """The epilogue on a conv's NCHW result, in NumPy (or any array library with its ops)."""
    for step in steps:
        if step == "bias":
            out = out + bias.reshape(1, -1, 1, 1)
        elif step == "add":
            out = out + residual
        elif step == "relu":
            out = np.maximum(out, 0)
        elif step == "relu6":
            out = np.clip(out, 0, 6)
        elif step == "hardswish":
            out = out * np.clip(out + 3, 0, 6) / 6
        else:  # silu: sigmoid as 0.5 (1 + tanh(x / 2)), which cannot overflow
            out = out * (0.5 * (1 + np.tanh(out * 0.5)))
    return out


class Conv2d(KernelTemplate):
    name = "conv2d"
    doc = "Y[n,k,y,x] = sum X[n,c,y*s+r*d-p,x*s+q*d-p] * W[k,c/g,r,q] (NCHW, OIHW, groups)"
    weights = (1,)
    params = (
        Param("n", "int", 1, "batch"),
        Param("c", "int", None, "input channels"),
        Param("h", "int", None, "input height"),
        Param("w", "int", None, "input width"),
        Param("k", "int", None, "output channels"),
        Param("kh", "int", 3, "kernel height"),
        Param("kw", "int", 3, "kernel width"),
        Param("stride", "pair", 1, "stride, int or (h, w)"),
        Param("padding", "pair", 0, "zero padding on each side, int or (h, w)"),
        Param("dilation", "pair", 1, "dilation, int or (h, w)"),
        Param("groups", "int", 1, "groups; c for depthwise"),
        Param("dtype", "dtype", "float32", "element type"),
        Param("epilogue", "steps", "", "output steps in order, e.g. bias+relu6 or bias+add+relu",
              choices=EPILOGUE_STEPS, key_when_default=False),
    )

    def check(self, p: dict[str, Any]) -> None:
        require_positive(p, "n", "c", "h", "w", "k", "kh", "kw", "stride", "dilation", "groups")
        if sum(step in ACTIVATIONS for step in epilogue_steps(p)) > 1:
            raise WorkloadError(f"parameter 'epilogue': at most one of {', '.join(ACTIVATIONS)}, "
                                f"got {p['epilogue']!r}")
        if min(p["padding"]) < 0:
            raise WorkloadError(f"parameter 'padding' must be >= 0, got {p['padding']!r}")
        g = p["groups"]
        if p["c"] % g:
            raise WorkloadError(f"parameter 'groups'={g} does not divide c={p['c']}")
        if p["k"] % g:
            raise WorkloadError(f"parameter 'groups'={g} does not divide k={p['k']}")
        for axis, size, kernel in ((0, p["h"], p["kh"]), (1, p["w"], p["kw"])):
            extent = p["dilation"][axis] * (kernel - 1) + 1
            padded = size + 2 * p["padding"][axis]
            if extent > padded:
                name = "kh" if axis == 0 else "kw"
                raise WorkloadError(
                    f"parameter '{name}': dilated kernel extent {extent} is larger than the "
                    f"padded input {padded}"
                )

    def dims(self, p: dict[str, Any]) -> ConvDims:
        """The sizes the prim funcs are written in."""
        (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
        c, k, g = p["c"], p["k"], p["groups"]
        return ConvDims(p["n"], c, p["h"], p["w"], k, p["kh"], p["kw"], sh, sw, ph, pw, dh, dw,
                        g, p["dtype"], c // g, k // g, *self._out_hw(p),
                        p["h"] + 2 * ph, p["w"] + 2 * pw)

    def _out_hw(self, p: dict[str, Any]) -> tuple[int, int]:
        (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
        return _out_size(p["h"], p["kh"], sh, ph, dh), _out_size(p["w"], p["kw"], sw, pw, dw)

    def input_specs(self, p: dict[str, Any]) -> list[TensorSpec]:
        steps = epilogue_steps(p)
        return [
            TensorSpec((p["n"], p["c"], p["h"], p["w"]), p["dtype"]),
            TensorSpec((p["k"], p["c"] // p["groups"], p["kh"], p["kw"]), p["dtype"]),
            *([TensorSpec((p["k"],), p["dtype"])] if "bias" in steps else []),
            *([self.output_spec(p)] if "add" in steps else []),
        ]

    def weight_inputs(self, p: dict[str, Any]) -> tuple[int, ...]:
        return (1, 2) if "bias" in epilogue_steps(p) else (1,)

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((p["n"], p["k"], *self._out_hw(p)), p["dtype"])

    def reduction_length(self, p: dict[str, Any]) -> int:
        return p["c"] // p["groups"] * p["kh"] * p["kw"]

    def flops(self, p: dict[str, Any]) -> float:
        oh, ow = self._out_hw(p)
        return 2.0 * p["n"] * p["k"] * oh * ow * self.reduction_length(p)

    def reference(self, p: dict[str, Any], x: np.ndarray, wt: np.ndarray, *epilogue_inputs) -> np.ndarray:
        (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
        n, c, g, k = p["n"], p["c"], p["groups"], p["k"]
        oh, ow = self._out_hw(p)
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        cg, kg = c // g, k // g
        out = np.zeros((n, k, oh, ow))
        for r in range(p["kh"]):
            for q in range(p["kw"]):
                patch = xp[:, :, r * dh : r * dh + sh * (oh - 1) + 1 : sh,
                           q * dw : q * dw + sw * (ow - 1) + 1 : sw]
                for gi in range(g):
                    out[:, gi * kg : (gi + 1) * kg] += np.einsum(
                        "nchw,kc->nkhw",
                        patch[:, gi * cg : (gi + 1) * cg],
                        wt[gi * kg : (gi + 1) * kg, :, r, q].astype(np.float64),
                    )
        return self.finish_reference(p, out, *epilogue_inputs).astype(p["dtype"])

    def finish_reference(self, p: dict[str, Any], out: np.ndarray, *epilogue_inputs) -> np.ndarray:
        """``out`` (the conv, float64) with the epilogue applied, its inputs in argument order."""
        steps = epilogue_steps(p)
        inputs = [a.astype(np.float64) for a in epilogue_inputs]
        bias = inputs.pop(0) if "bias" in steps else None
        residual = inputs.pop(0) if "add" in steps else None
        return apply_epilogue(steps, out, bias, residual)

    def sketches(self, p: dict[str, Any], target):
        """A depthwise conv's register-tiled row-vector stencils; none for other convs."""
        if not is_depthwise(p):
            return []
        oh, ow = self._out_hw(p)
        return depthwise_sketches(target, out_height=oh, out_width=ow, dtype=p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        return with_epilogue(self.dims(p), epilogue_steps(p), self.body(p))

    def body(self, p: dict[str, Any]):
        """A macro ``body(X, W, Y)``: the convolution into the NCHW buffer ``Y``, with the
        internal buffers and layout blocks it needs. Layout variants write their own."""
        d = self.dims(p)
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, dtype, cg, kg, oh, ow, hp, wp = d
        pad = pad_nchw(d)

        @T.macro
        def conv2d(X, W, Y):
            Xp = T.sblock_alloc_buffer((n, c, hp, wp), dtype)
            pad(X, Xp)
            for b, o, y, x, rc, ry, rx in T.grid(n, k, oh, ow, cg, kh, kw):
                with T.sblock("conv"):
                    vb, vo, vy, vx, vc, vry, vrx = T.axis.remap(
                        "SSSSRRR", [b, o, y, x, rc, ry, rx]
                    )
                    with T.init():
                        Y[vb, vo, vy, vx] = T.cast(0, dtype)
                    Y[vb, vo, vy, vx] = Y[vb, vo, vy, vx] + Xp[
                        vb, vo // kg * cg + vc, vy * sh + vry * dh, vx * sw + vrx * dw
                    ] * W[vo, vc, vry, vrx]

        return conv2d


TEMPLATE = Conv2d()
