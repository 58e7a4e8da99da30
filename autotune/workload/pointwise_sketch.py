"""Register-tiled sketches for pointwise (1x1, stride 1, unpadded) convs in NCHW: a GEMM.

In NCHW a pointwise conv is a matrix product ``Y[k, pixels] = W[k, c] @ X[c, pixels]``
with the pixels of an image contiguous in both ``X`` and ``Y``: nothing to pack, transpose
or unpack, and the weights are broadcast as they are. The NCHW template's row and column
loops leave a row of 7, 14 or 28 pixels its only vector axis. Here, for the "conv" block
of ``conv2d_pw_nchw`` (which iterates over the flat pixel axis), as a BLAS kernel:

- the pixel axis is split into tiles of whole vectors (the last one predicated where the
  pixels are not whole vectors);
- a tile of ``output channels x pixel vectors`` stays in registers over the input
  channels (one broadcast weight per output channel against one input vector per pixel
  vector), the input channels split by ``sample_perfect_tile`` (the search mutates it);
- the tiles run in parallel, pixels outermost so a core's input columns stay in cache
  across the output channels; the accumulators go through the epilogue to the output.
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
from autotune.workload.template import Sketch

VECTORS = (1, 2, 3, 4)  # pixel vectors in a tile: more leaves too few channels per weight


@dataclass(frozen=True)
class PointwiseTile:
    """A register tile: output channels x vectors of pixels."""

    channels: int
    vectors: int
    lanes: int

    @property
    def name(self) -> str:
        return f"pwtile-k{self.channels}-v{self.vectors}x{self.lanes}"


def pointwise_tiles(channels: int, pixels: int, lanes: int,
                    vector_registers: int) -> list[PointwiseTile]:
    """Tiles whose accumulators fit the register file and hide the FMA latency, with
    padded tails (of the output channels, of the pixels) a small share of each; in
    half-width vectors where full ones would pad the pixels too much (49 pixels: 56 in
    8-lane vectors, 64 in 16-lane ones). Per vector count, the fewest, a middle and the
    most output channels that qualify (neighbouring counts run alike)."""
    least, most = accumulator_bounds(vector_registers)
    for width in (lanes, lanes // 2):
        for floor in (least, 1):  # few channels or pixels: what fits, when nothing reaches it
            tiles = []
            for vectors in VECTORS:
                if tail_waste(pixels, vectors * width) > MAX_TAIL_WASTE:
                    continue
                rows = [r for r in range(1, channels + 1)
                        if floor <= r * vectors <= most
                        and tail_waste(channels, r) <= MAX_TAIL_WASTE]
                picked = sorted({rows[0], rows[len(rows) // 2], rows[-1]}) if rows else []
                tiles += [PointwiseTile(r, vectors, width) for r in picked]
            if tiles:
                return tiles
    return []


def pointwise_sketch(tile: PointwiseTile) -> Sketch:
    """The sketch of one register tile for ``conv2d_pw_nchw``'s "conv" block (see the module)."""

    def apply(sch: Schedule) -> None:
        conv = sch.get_sblock("conv")
        b, o, pixel, rc = sch.get_loops(conv)
        o_o, o_i = sch.split(o, [None, tile.channels])
        p_o, p_v, p_l = sch.split(pixel, [None, tile.vectors, tile.lanes])
        rc_o, rc_i = sch.split(rc, sch.sample_perfect_tile(rc, n=2, max_innermost_factor=512))
        sch.reorder(b, p_o, o_o, rc_o, rc_i, o_i, p_v, p_l)
        sch.vectorize(p_l)
        sch.unroll(p_v)
        sch.unroll(o_i)
        tiles = sch.fuse(b, p_o, o_o)
        sch.parallel(tiles)
        unflatten = write_tile_through(sch, conv, tiles, "unflatten")
        sch.vectorize(sch.split(sch.get_loops(unflatten)[-1], [None, tile.lanes])[1])
        init = sch.decompose_reduction(conv, rc_o)
        sch.vectorize(sch.get_loops(init)[-1])

    return Sketch(tile.name, apply)


def pointwise_sketches(target, *, channels: int, pixels: int, dtype: str) -> list[Sketch]:
    """The register-tiled sketches of an NCHW pointwise conv with ``channels`` outputs over
    ``pixels`` pixels an image, on ``target`` (CPUs only)."""
    vectors = vector_file(target)
    if vectors is None:
        return []
    return [pointwise_sketch(tile) for tile in pointwise_tiles(
        channels, pixels, vectors.lanes(dtype), vectors.registers)]
