"""2-D convolution, NCHW input and OIHW weights, with stride, padding, dilation and groups."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from tvm.script import tirx as T

from autotune.errors import WorkloadError
from autotune.workload.template import KernelTemplate, Param, TensorSpec, require_positive


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


def pad_nchw(d: ConvDims):
    """The block that zero-pads the NCHW input ``X`` into ``Xp`` (the conv2d templates'
    "pad" block, written once; a macro, so every module is as if written out)."""
    n, c, h, w, ph, pw, hp, wp, dtype = d.n, d.c, d.h, d.w, d.ph, d.pw, d.hp, d.wp, d.dtype

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
    )

    def check(self, p: dict[str, Any]) -> None:
        require_positive(p, "n", "c", "h", "w", "k", "kh", "kw", "stride", "dilation", "groups")
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
        return [
            TensorSpec((p["n"], p["c"], p["h"], p["w"]), p["dtype"]),
            TensorSpec((p["k"], p["c"] // p["groups"], p["kh"], p["kw"]), p["dtype"]),
        ]

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((p["n"], p["k"], *self._out_hw(p)), p["dtype"])

    def reduction_length(self, p: dict[str, Any]) -> int:
        return p["c"] // p["groups"] * p["kh"] * p["kw"]

    def flops(self, p: dict[str, Any]) -> float:
        oh, ow = self._out_hw(p)
        return 2.0 * p["n"] * p["k"] * oh * ow * self.reduction_length(p)

    def reference(self, p: dict[str, Any], x: np.ndarray, wt: np.ndarray) -> np.ndarray:
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
        return out.astype(p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        d = self.dims(p)
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, dtype, cg, kg, oh, ow, hp, wp = d
        pad = pad_nchw(d)

        @T.prim_func(s_tir=True)
        def conv2d(
            X: T.Buffer((n, c, h, w), dtype),
            W: T.Buffer((k, cg, kh, kw), dtype),
            Y: T.Buffer((n, k, oh, ow), dtype),
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
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
