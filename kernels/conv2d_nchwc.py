"""Layout variant of conv2d: NCHW in and out, output channels blocked (NCHW[x]c) inside.

Output channels are computed in blocks of 16 or 8 (whichever pads ``k`` less; padded
channels have zero weights), innermost, so they vectorize. Packing the weights and
unpacking the output are blocks of the kernel, tuned and timed with it. Groups must be 1.
"""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.errors import WorkloadError
from kernels.conv2d import Conv2d


def channel_block(k: int) -> int:
    """16 or 8: the block that pads ``k`` output channels least (16 on a tie)."""
    return min((16, 8), key=lambda b: -(-k // b) * b)


class Conv2dNCHWc(Conv2d):
    name = "conv2d_nchwc"
    doc = "conv2d with output channels blocked by 16 or 8 inside (layout variant of conv2d)"
    variant_of = "conv2d"
    weight_pack = "weight_pack"

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        if p["groups"] != 1:
            raise WorkloadError(f"parameter 'groups': conv2d_nchwc needs groups=1, got {p['groups']}")

    def prim_func(self, p: dict[str, Any]):
        n, c, h, w, k, kh, kw = (p[x] for x in ("n", "c", "h", "w", "k", "kh", "kw"))
        (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
        dtype = p["dtype"]
        oh, ow = self._out_hw(p)
        hp, wp = h + 2 * ph, w + 2 * pw
        bk = channel_block(k)
        kb = -(-k // bk)

        @T.prim_func(s_tir=True)
        def conv2d_nchwc(
            X: T.Buffer((n, c, h, w), dtype),
            W: T.Buffer((k, c, kh, kw), dtype),
            Y: T.Buffer((n, k, oh, ow), dtype),
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Xp = T.sblock_alloc_buffer((n, c, hp, wp), dtype)
            Wb = T.sblock_alloc_buffer((kb, c, kh, kw, bk), dtype)
            Yb = T.sblock_alloc_buffer((n, kb, oh, ow, bk), dtype)
            for i0, i1, i2, i3 in T.grid(n, c, hp, wp):
                with T.sblock("pad"):
                    v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                    Xp[v0, v1, v2, v3] = T.if_then_else(
                        ph <= v2 and v2 < h + ph and pw <= v3 and v3 < w + pw,
                        X[v0, v1, v2 - ph, v3 - pw],
                        T.cast(0, dtype),
                    )
            for i0, i1, i2, i3, i4 in T.grid(kb, c, kh, kw, bk):
                with T.sblock("weight_pack"):
                    v0, v1, v2, v3, v4 = T.axis.remap("SSSSS", [i0, i1, i2, i3, i4])
                    Wb[v0, v1, v2, v3, v4] = T.if_then_else(
                        v0 * bk + v4 < k, W[v0 * bk + v4, v1, v2, v3], T.cast(0, dtype)
                    )
            for b, ko, y, x, ki, rc, ry, rx in T.grid(n, kb, oh, ow, bk, c, kh, kw):
                with T.sblock("conv"):
                    vb, vko, vy, vx, vki, vc, vry, vrx = T.axis.remap(
                        "SSSSSRRR", [b, ko, y, x, ki, rc, ry, rx]
                    )
                    with T.init():
                        Yb[vb, vko, vy, vx, vki] = T.cast(0, dtype)
                    Yb[vb, vko, vy, vx, vki] = Yb[vb, vko, vy, vx, vki] + Xp[
                        vb, vc, vy * sh + vry * dh, vx * sw + vrx * dw
                    ] * Wb[vko, vc, vry, vrx, vki]
            for i0, i1, i2, i3 in T.grid(n, k, oh, ow):
                with T.sblock("unpack"):
                    v0, v1, v2, v3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                    Y[v0, v1, v2, v3] = Yb[v0, v1 // bk, v2, v3, v1 % bk]

        return conv2d_nchwc


TEMPLATE = Conv2dNCHWc()
