"""Layout variant of depthwise conv2d: NCHW in and out, channels blocked (NCHW[x]c) inside.

A depthwise conv (groups = input channels = output channels) has no channel reduction, so
the NCHW template can only vectorise along a row of pixels. Here the channels are split
into blocks of 16 or 8 (whichever pads the channel count less), innermost: input, weights
and output are packed as ``[block, y, x, lane]``, and every multiply-add is a full vector
of channels, as in MLAS's NCHWc depthwise kernel. Padding, packing and unpacking are blocks
of the kernel, tuned and timed with it.
"""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.errors import WorkloadError
from autotune.kernels.conv2d import Conv2d, is_depthwise, unpack_nchw
from autotune.kernels.conv2d_nchwc import channel_block
from autotune.workload.conv_sketch import blocked_conv_sketches
from autotune.workload.template import BESIDE


class Conv2dDepthwiseNCHWc(Conv2d):
    name = "conv2d_dw_nchwc"
    doc = "depthwise conv2d with channels blocked by 16 or 8 inside (layout variant of conv2d)"
    variant_of = "conv2d"
    weight_pack = "weight_pack"

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        if not is_depthwise(p):
            raise WorkloadError(
                "conv2d_dw_nchwc is for depthwise convs (groups = c = k), got "
                f"groups={p['groups']}, c={p['c']}, k={p['k']}")

    def auto_role(self, p: dict[str, Any]) -> str:
        """Beside NCHW: on depthwise convs either wins (conv-unusual: a 5x5 stride-2 conv
        blocked, a 3x3 stride-1 conv in NCHW)."""
        return BESIDE

    def sketches(self, p: dict[str, Any], target):
        d = self.dims(p)
        bc = channel_block(d.c)
        return blocked_conv_sketches(
            target, out_width=d.ow, channel_blocks=-(-d.c // bc), block=bc, kw=d.kw,
            dtype=d.dtype, channel_reduction=False, inline_pad=False, input_block="input_pack")

    def body(self, p: dict[str, Any]):
        d = self.dims(p)
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, dtype, cg, kg, oh, ow, hp, wp = d
        bc = channel_block(c)
        cb = -(-c // bc)
        unpack = unpack_nchw(d, c, bc)

        @T.macro
        def conv2d_dw_nchwc(X, W, Y):
            Xb = T.sblock_alloc_buffer((n, cb, hp, wp, bc), dtype)
            Wb = T.sblock_alloc_buffer((cb, kh, kw, bc), dtype)
            Yb = T.sblock_alloc_buffer((n, cb, oh, ow, bc), dtype)
            for i0, i1, i2, i3, i4 in T.grid(n, cb, hp, wp, bc):
                with T.sblock("input_pack"):
                    v0, v1, v2, v3, v4 = T.axis.remap("SSSSS", [i0, i1, i2, i3, i4])
                    Xb[v0, v1, v2, v3, v4] = T.if_then_else(
                        v1 * bc + v4 < c and ph <= v2 and v2 < h + ph and pw <= v3
                        and v3 < w + pw,
                        X[v0, v1 * bc + v4, v2 - ph, v3 - pw],
                        T.cast(0, dtype),
                    )
            for i0, i1, i2, i3 in T.grid(cb, kh, kw, bc):
                with T.sblock("weight_pack"):
                    v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                    Wb[v0, v1, v2, v3] = T.if_then_else(
                        v0 * bc + v3 < c, W[v0 * bc + v3, 0, v1, v2], T.cast(0, dtype)
                    )
            for b, co, y, x, ci, ry, rx in T.grid(n, cb, oh, ow, bc, kh, kw):
                with T.sblock("conv"):
                    vb, vco, vy, vx, vci, vry, vrx = T.axis.remap(
                        "SSSSSRR", [b, co, y, x, ci, ry, rx]
                    )
                    with T.init():
                        Yb[vb, vco, vy, vx, vci] = T.cast(0, dtype)
                    Yb[vb, vco, vy, vx, vci] = Yb[vb, vco, vy, vx, vci] + Xb[
                        vb, vco, vy * sh + vry * dh, vx * sw + vrx * dw, vci
                    ] * Wb[vco, vry, vrx, vci]
            unpack(Yb, Y)

        return conv2d_dw_nchwc


TEMPLATE = Conv2dDepthwiseNCHWc()
