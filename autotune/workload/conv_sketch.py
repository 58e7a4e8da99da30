"""Register-tiled sketches for the channel-blocked convolutions (MLAS's NCHWc micro-kernel).

MetaSchedule's generic CPU rules tile every loop by exact divisors and let the last tile
be whatever divides it, so on an odd output width (47, 29) the accumulators of a tile
either do not fit the register file or are a single vector: the search finds kernels that
load and store their partial sums on every multiply-add. A vendor library's direct conv
kernel instead keeps ``pixels x channel blocks`` accumulators in vector registers for the
whole reduction, broadcasting one input value per pixel against one weight vector per
block, and handles the last pixels of a row with a shorter tile.

These sketches write that kernel as a MetaSchedule design space for the "conv" block of a
template in the NCHW[x]c form (``b, ko, y, x, ki`` spatial, then ``rc, ry, rx`` or ``ry, rx``
reduction; ``ki`` the vector lanes):

- ``x`` is split by a fixed pixel count that need not divide the width (the last tile is
  predicated), ``ko`` by a divisor; pixels x blocks x vectors per block accumulators stay
  within the register file (the sketch's choice, one design space per choice);
- the input channels are split by ``sample_perfect_tile`` (the search mutates it), and the
  kernel width is optionally unrolled;
- the accumulators are a cache-write buffer at the pixel tile, written straight to the NCHW
  output (and its epilogue) there, so no blocked copy of the output goes through memory;
- the outer spatial loops are parallel; padding, packing and the rest are parallel loops.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm.s_tir import Schedule

from autotune.workload.register_tiles import (
    MAX_TAIL_WASTE,
    accumulator_bounds,
    tail_waste,
    vector_file,
    write_tile_through,
)
from autotune.workload.template import Sketch, block_names


@dataclass(frozen=True)
class ConvTile:
    """A register tile: output pixels x channel blocks, and whether kw is unrolled."""

    pixels: int
    blocks: int
    unroll_kw: bool

    @property
    def name(self) -> str:
        return f"regtile-x{self.pixels}-k{self.blocks}" + ("-kw" if self.unroll_kw else "")


def conv_tiles(out_width: int, channel_blocks: int, block_vectors: int, kw: int,
               vector_registers: int) -> list[ConvTile]:
    """The register tiles worth searching: accumulators (pixels x blocks x vectors per
    block) within the register file and enough of them to hide the FMA latency, pixel
    tiles whose padded tail is small, channel tiles that divide the blocks."""
    least, most = accumulator_bounds(vector_registers)
    block_tiles = [b for b in range(1, channel_blocks + 1) if channel_blocks % b == 0]
    tiles = []
    for floor in (least, 1):  # small outputs: take what fits when nothing reaches the floor
        for blocks in block_tiles:
            for pixels in range(1, out_width + 1):
                acc = pixels * blocks * block_vectors
                if floor <= acc <= most and tail_waste(out_width, pixels) <= MAX_TAIL_WASTE:
                    tiles.append((pixels, blocks))
        if tiles:
            break
    unrolls = (False, True) if 1 < kw <= 7 else (False,)
    return [ConvTile(p, b, u) for p, b in tiles for u in unrolls]


def blocked_conv_sketch(tile: ConvTile, *, channel_reduction: bool, inline_pad: bool,
                        input_block: str = "pad") -> Sketch:
    """The sketch of one register tile for a template's "conv" block (see the module)."""

    def apply(sch: Schedule) -> None:
        conv = sch.get_sblock("conv")
        loops = sch.get_loops(conv)
        if channel_reduction:
            b, ko, y, x, ki, rc, ry, rx = loops
        else:
            (b, ko, y, x, ki, ry, rx), rc = loops, None
        ko_o, ko_i = sch.split(ko, [None, tile.blocks])
        x_o, x_i = sch.split(x, [None, tile.pixels])
        reduction_outer: list = [ry]
        if rc is not None:
            rc_o, rc_i = sch.split(rc, sch.sample_perfect_tile(rc, n=2, max_innermost_factor=64))
            reduction_outer = [rc_o, ry]
            inner = [rc_i, rx] if tile.unroll_kw else [rx, rc_i]
        else:
            inner = [rx]
        sch.reorder(b, ko_o, y, x_o, *reduction_outer, *inner, ko_i, x_i, ki)
        sch.vectorize(ki)
        sch.unroll(x_i)
        sch.unroll(ko_i)
        if tile.unroll_kw:
            sch.unroll(rx)
        outer = sch.fuse(b, ko_o, y)
        sch.parallel(outer)
        write_tile_through(sch, conv, x_o, "unpack")
        blocks = block_names(sch.mod["main"])
        init = sch.decompose_reduction(conv, reduction_outer[0])
        sch.vectorize(sch.get_loops(init)[-1])
        if inline_pad:
            sch.compute_inline(sch.get_sblock(input_block))
        for name in (input_block, "weight_pack"):
            if name in blocks and not (inline_pad and name == input_block):
                _parallel_outer(sch, sch.get_sblock(name))

    return Sketch(tile.name, apply)


def _parallel_outer(sch: Schedule, block) -> None:
    """Parallelise a copy block's two outer loops (fused)."""
    loops = sch.get_loops(block)
    sch.parallel(sch.fuse(*loops[:2]) if len(loops) > 1 else loops[0])


def blocked_conv_sketches(target, *, out_width: int, channel_blocks: int, block: int, kw: int,
                          dtype: str, channel_reduction: bool, inline_pad: bool,
                          input_block: str = "pad") -> list[Sketch]:
    """The register-tiled sketches of a channel-blocked conv on ``target`` (CPUs only)."""
    vectors = vector_file(target)
    if vectors is None:
        return []
    block_vectors = -(-block // vectors.lanes(dtype))
    return [blocked_conv_sketch(tile, channel_reduction=channel_reduction, inline_pad=inline_pad,
                                input_block=input_block)
            for tile in conv_tiles(out_width, channel_blocks, block_vectors, kw,
                                   vectors.registers)]
