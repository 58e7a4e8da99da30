"""Layout variant of conv2d: NCHW in and out, computed in NHWC with HWIO weights.

The input and weight transposes and the output transpose back are blocks of the kernel,
so they are tuned and timed with it: the caller sees plain conv2d.
"""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.kernels.conv2d import Conv2d


class Conv2dNHWC(Conv2d):
    name = "conv2d_nhwc"
    doc = "conv2d computed in NHWC/HWIO: channels innermost (layout variant of conv2d)"
    variant_of = "conv2d"

    def sketches(self, p: dict[str, Any], target):
        """None: the NCHW template's depthwise sketches do not fit these blocks."""
        return []

    def body(self, p: dict[str, Any]):
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, dtype, cg, kg, oh, ow, hp, wp = \
            self.dims(p)

        @T.macro
        def conv2d_nhwc(X, W, Y):
            Xh = T.sblock_alloc_buffer((n, hp, wp, c), dtype)
            Wh = T.sblock_alloc_buffer((kh, kw, cg, k), dtype)
            Yh = T.sblock_alloc_buffer((n, oh, ow, k), dtype)
            for i0, i1, i2, i3 in T.grid(n, hp, wp, c):
                with T.sblock("pad_nhwc"):
                    v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                    Xh[v0, v1, v2, v3] = T.if_then_else(
                        ph <= v1 and v1 < h + ph and pw <= v2 and v2 < w + pw,
                        X[v0, v3, v1 - ph, v2 - pw],
                        T.cast(0, dtype),
                    )
            for i0, i1, i2, i3 in T.grid(kh, kw, cg, k):
                with T.sblock("weight_hwio"):
                    v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                    Wh[v0, v1, v2, v3] = W[v3, v2, v0, v1]
            for b, y, x, o, rc, ry, rx in T.grid(n, oh, ow, k, cg, kh, kw):
                with T.sblock("conv"):
                    vb, vy, vx, vo, vc, vry, vrx = T.axis.remap(
                        "SSSSRRR", [b, y, x, o, rc, ry, rx]
                    )
                    with T.init():
                        Yh[vb, vy, vx, vo] = T.cast(0, dtype)
                    Yh[vb, vy, vx, vo] = Yh[vb, vy, vx, vo] + Xh[
                        vb, vy * sh + vry * dh, vx * sw + vrx * dw, vo // kg * cg + vc
                    ] * Wh[vry, vrx, vc, vo]
            for i0, i1, i2, i3 in T.grid(n, k, oh, ow):
                with T.sblock("to_nchw"):
                    v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                    Y[v0, v1, v2, v3] = Yh[v0, v2, v3, v1]

        return conv2d_nhwc


TEMPLATE = Conv2dNHWC()
