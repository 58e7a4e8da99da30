"""Layout variant of conv2d: NCHW in and out, output channels blocked (NCHW[x]c) inside.

Output channels are computed in blocks of 16 or 8 (whichever pads ``k`` less; padded
channels have zero weights), innermost, so they vectorize. Packing the weights and
unpacking the output are blocks of the kernel, tuned and timed with it. A grouped conv
takes blocks of 16, 8 or 4 output channels that divide a group's ``k / groups`` (so a block
never straddles two groups); depthwise convs have their own variant (``conv2d_dw_nchwc``).
"""

from __future__ import annotations

from typing import Any

from tvm.script import tirx as T

from autotune.errors import WorkloadError
from autotune.kernels.conv2d import Conv2d, pad_nchw, unpack_nchw
from autotune.workload.conv_sketch import blocked_conv_sketches
from autotune.workload.template import BESIDE, INSTEAD

# Padded output channels (as a fraction of k) up to which a pointwise conv is computed in
# blocks alone under the "auto" variant policy.
POINTWISE_PADDING = 0.125


def channel_block(k: int) -> int:
    """16 or 8: the block that pads ``k`` output channels least (16 on a tie)."""
    return min((16, 8), key=lambda b: -(-k // b) * b)


def group_block(k_per_group: int) -> int | None:
    """The largest of 16, 8 and 4 that divides a group's output channels, or None."""
    return next((b for b in (16, 8, 4) if k_per_group % b == 0), None)


class Conv2dNCHWc(Conv2d):
    name = "conv2d_nchwc"
    doc = "conv2d with output channels blocked by 16, 8 or 4 inside (layout variant of conv2d)"
    variant_of = "conv2d"
    weight_pack = "weight_pack"

    def check(self, p: dict[str, Any]) -> None:
        super().check(p)
        if p["groups"] != 1 and group_block(p["k"] // p["groups"]) is None:
            raise WorkloadError(
                f"parameter 'groups': conv2d_nchwc needs groups=1 or k/groups divisible by 4, "
                f"got k={p['k']}, groups={p['groups']}")

    def auto_role(self, p: dict[str, Any]) -> str:
        """Instead of NCHW for a pointwise (1x1) conv whose blocks pad k little: its few
        pixels a row (7 or 14 in a network's late stages) are NCHW's only vector axis, while
        the blocks vectorise over output channels with the weights packed once. Beside NCHW
        for the other convs, where either layout wins on some shapes."""
        k = p["k"] // p["groups"]
        padded = -(-k // self.block(p)) * self.block(p)
        pointwise = p["kh"] == p["kw"] == 1 and p["groups"] == 1
        return INSTEAD if pointwise and padded <= k * (1 + POINTWISE_PADDING) else BESIDE

    def body(self, p: dict[str, Any]):
        return self._dense(p) if p["groups"] == 1 else self._grouped(p)

    def block(self, p: dict[str, Any]) -> int:
        """Output channels per block."""
        return channel_block(p["k"]) if p["groups"] == 1 else group_block(p["k"] // p["groups"])

    def sketches(self, p: dict[str, Any], target):
        d, bk = self.dims(p), self.block(p)
        return blocked_conv_sketches(
            target, out_width=d.ow, channel_blocks=-(-d.k // bk), block=bk, kw=d.kw,
            dtype=d.dtype, channel_reduction=True, inline_pad=d.ph == d.pw == 0)

    def _grouped(self, p: dict[str, Any]):
        d = self.dims(p)
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, dtype, cg, kg, oh, ow, hp, wp = d
        bk = self.block(p)
        kb, per_group = k // bk, kg // bk  # blocks in all, blocks in a group
        pad, unpack = pad_nchw(d), unpack_nchw(d, k, bk)

        @T.macro
        def conv2d_nchwc_grouped(X, W, Y):
            Xp = T.sblock_alloc_buffer((n, c, hp, wp), dtype)
            Wb = T.sblock_alloc_buffer((kb, cg, kh, kw, bk), dtype)
            Yb = T.sblock_alloc_buffer((n, kb, oh, ow, bk), dtype)
            pad(X, Xp)
            for i0, i1, i2, i3, i4 in T.grid(kb, cg, kh, kw, bk):
                with T.sblock("weight_pack"):
                    v0, v1, v2, v3, v4 = T.axis.remap("SSSSS", [i0, i1, i2, i3, i4])
                    Wb[v0, v1, v2, v3, v4] = W[v0 * bk + v4, v1, v2, v3]
            for b, ko, y, x, ki, rc, ry, rx in T.grid(n, kb, oh, ow, bk, cg, kh, kw):
                with T.sblock("conv"):
                    vb, vko, vy, vx, vki, vc, vry, vrx = T.axis.remap(
                        "SSSSSRRR", [b, ko, y, x, ki, rc, ry, rx]
                    )
                    with T.init():
                        Yb[vb, vko, vy, vx, vki] = T.cast(0, dtype)
                    Yb[vb, vko, vy, vx, vki] = Yb[vb, vko, vy, vx, vki] + Xp[
                        vb, vko // per_group * cg + vc, vy * sh + vry * dh, vx * sw + vrx * dw
                    ] * Wb[vko, vc, vry, vrx, vki]
            unpack(Yb, Y)

        return conv2d_nchwc_grouped

    def _dense(self, p: dict[str, Any]):
        d = self.dims(p)
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g, dtype, cg, kg, oh, ow, hp, wp = d
        bk = self.block(p)
        kb = -(-k // bk)
        pad, unpack = pad_nchw(d), unpack_nchw(d, k, bk)

        @T.macro
        def conv2d_nchwc(X, W, Y):
            Xp = T.sblock_alloc_buffer((n, c, hp, wp), dtype)
            Wb = T.sblock_alloc_buffer((kb, c, kh, kw, bk), dtype)
            Yb = T.sblock_alloc_buffer((n, kb, oh, ow, bk), dtype)
            pad(X, Xp)
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
            unpack(Yb, Y)

        return conv2d_nchwc


TEMPLATE = Conv2dNCHWc()
