"""Layout variant of depthwise conv2d: NCHW in and out, rows computed in whole vectors.

A depthwise conv filters each channel's plane by itself: in NCHW a row of outputs is a row
of vectors, each tap one broadcast weight, one load and one FMA per vector. A row whose
width is no multiple of the vector width (43, 57, 7) leaves the NCHW template with a
predicated or scalar tail in every row, which its schedules pay for in every tap.
Here each plane is padded (in a buffer of its own, a few kilobytes, right before use)
to rows of whole vectors, computed over those rows, and cropped to the output on the
way out: nothing is transposed, weights are used as they are, and every vector of the
stencil is a full one. Its register-tiled sketch keeps a tile of rows x vectors in
registers over the taps (``autotune/workload/depthwise_sketch.py``).
"""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.errors import WorkloadError
from autotune.kernels.conv2d import Conv2d, is_depthwise, pad_nchw
from autotune.workload.depthwise_sketch import ROW_VECTOR, rows_sketches
from autotune.workload.template import INSTEAD, SKIP


def row_width(ow: int) -> int:
    """Output row width rounded up to whole ``ROW_VECTOR``-element vectors."""
    return -(-ow // ROW_VECTOR) * ROW_VECTOR


class Conv2dDepthwiseRows(Conv2d):
    name = "conv2d_dw_rows"
    doc = "depthwise conv2d over rows padded to whole vectors (layout variant of conv2d)"
    variant_of = "conv2d"

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        if not is_depthwise(p):
            raise WorkloadError(
                "conv2d_dw_rows is for depthwise convs (groups = c = k), got "
                f"groups={p['groups']}, c={p['c']}, k={p['k']}")

    def auto_role(self, p: dict[str, Any]) -> str:
        """Instead of NCHW where rows are read with stride 1 (the same loop nest with full
        vectors and no pass over the whole input to pad it), beside the channel-blocked
        variant; not on strided rows, whose vectors would be gathered."""
        return INSTEAD if p["stride"][1] == 1 else SKIP

    def sketches(self, p: dict[str, Any], target):
        d = self.dims(p)
        return rows_sketches(target, out_height=d.oh, row_vectors=row_width(d.ow) // ROW_VECTOR,
                             dtype=d.dtype)

    def body(self, p: dict[str, Any]):
        d = self.dims(p)
        n, c, kh, kw, sh, sw, dh, dw, dtype, oh, ow, hp = (
            d.n, d.c, d.kh, d.kw, d.sh, d.sw, d.dh, d.dw, d.dtype, d.oh, d.ow, d.hp)
        owr = row_width(ow)
        wpr = (owr - 1) * sw + (kw - 1) * dw + 1  # padded input width the whole rows read
        pad = pad_nchw(d, width=wpr)

        @T.macro
        def conv2d_dw_rows(X, W, Y):
            Xp = T.sblock_alloc_buffer((n, c, hp, wpr), dtype)
            Yr = T.sblock_alloc_buffer((n, c, oh, owr), dtype)
            pad(X, Xp)
            for b, o, y, x, ry, rx in T.grid(n, c, oh, owr, kh, kw):
                with T.sblock("conv"):
                    vb, vo, vy, vx, vry, vrx = T.axis.remap("SSSSRR", [b, o, y, x, ry, rx])
                    with T.init():
                        Yr[vb, vo, vy, vx] = T.cast(0, dtype)
                    Yr[vb, vo, vy, vx] = Yr[vb, vo, vy, vx] + Xp[
                        vb, vo, vy * sh + vry * dh, vx * sw + vrx * dw
                    ] * W[vo, 0, vry, vrx]
            for b, o, y, x in T.grid(n, c, oh, ow):
                with T.sblock("crop"):
                    vb, vo, vy, vx = T.axis.remap("SSSS", [b, o, y, x])
                    Y[vb, vo, vy, vx] = Yr[vb, vo, vy, vx]

        return conv2d_dw_rows


TEMPLATE = Conv2dDepthwiseRows()
