"""Layout variant of a pointwise conv2d: NCHW in and out, an image's pixels as one axis.

A 1x1 conv with stride 1 and no padding is a matrix product per image,
``Y[k, pixels] = W[k, c] @ X[c, pixels]``, and in NCHW the pixels are contiguous in both
``X`` and ``Y``. This template writes it so: the conv iterates over the flat pixel axis
into a flat buffer, and an "unflatten" block writes it to the NCHW output (after lowering
both index the same memory as the flat axis: nothing is packed, transposed or unpacked,
and the weights are used as they are). A row of 7, 14 or 28 pixels is then no limit on
the vectors, and its register-tiled sketch is a BLAS kernel (see
``autotune/workload/pointwise_sketch.py``).
"""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.errors import WorkloadError
from autotune.kernels.conv2d import Conv2d
from autotune.workload.pointwise_sketch import pointwise_sketches
from autotune.workload.template import INSTEAD


class Conv2dPointwiseNCHW(Conv2d):
    name = "conv2d_pw_nchw"
    doc = "pointwise conv2d as a GEMM over NCHW's flat pixels (layout variant of conv2d)"
    variant_of = "conv2d"

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        if not (p["kh"] == p["kw"] == 1 and p["stride"] == (1, 1) and p["padding"] == (0, 0)
                and p["groups"] == 1):
            raise WorkloadError(
                "conv2d_pw_nchw is for pointwise convs (kh = kw = 1, stride 1, no padding, "
                f"groups 1), got kh={p['kh']}, kw={p['kw']}, stride={p['stride']}, "
                f"padding={p['padding']}, groups={p['groups']}")

    def auto_role(self, p: dict[str, Any]) -> str:
        """Instead of NCHW (the same layout, with every schedule of NCHW's on the flat pixel
        axis and vectors no row limits), beside the channel-blocked layout."""
        return INSTEAD

    def sketches(self, p: dict[str, Any], target):
        oh, ow = self._out_hw(p)
        return pointwise_sketches(target, channels=p["k"], pixels=oh * ow, dtype=p["dtype"])

    def body(self, p: dict[str, Any]):
        d = self.dims(p)
        n, c, w, k, dtype, oh, ow = d.n, d.c, d.w, d.k, d.dtype, d.oh, d.ow
        pixels = oh * ow

        @T.macro
        def conv2d_pw_nchw(X, W, Y):
            Yf = T.sblock_alloc_buffer((n, k, pixels), dtype)
            for b, o, q, rc in T.grid(n, k, pixels, c):
                with T.sblock("conv"):
                    vb, vo, vq, vc = T.axis.remap("SSSR", [b, o, q, rc])
                    with T.init():
                        Yf[vb, vo, vq] = T.cast(0, dtype)
                    Yf[vb, vo, vq] = Yf[vb, vo, vq] + X[vb, vc, vq // w, vq % w] * W[vo, vc, 0, 0]
            for b, o, q in T.grid(n, k, pixels):
                with T.sblock("unflatten"):
                    vb, vo, vq = T.axis.remap("SSS", [b, o, q])
                    Y[vb, vo, vq // ow, vq % ow] = Yf[vb, vo, vq]

        return conv2d_pw_nchw


TEMPLATE = Conv2dPointwiseNCHW()
