"""Register-tiled sketches for depthwise convs in NCHW (a row-vector stencil micro-kernel).

A depthwise conv has no channel reduction: each output plane is its input plane filtered
by a ``kh x kw`` stencil, about 2 * kh * kw FLOPs an output. MetaSchedule's generic rules
tile it like any conv, pad the whole input in a pass of its own, and within a default
budget often end slower than the untuned kernel. A library's depthwise kernel keeps a
tile of output vectors in registers over the taps: per tap one broadcast weight, one
(unaligned or strided) load and one FMA per vector. Here, for the "conv" block of the
NCHW template (``b, o, y, x`` spatial, then ``rc, ry, rx`` with ``rc`` of extent 1):

- the (image, channel) planes run in parallel; each is padded into a small buffer right
  before it is used (in L1 or L2), not in a pass over the whole input;
- a tile of ``rows x vectors`` outputs, the vectors along a row, stays in registers over
  the taps (``x`` split by a fixed vector count and width that need not divide the row:
  the last vector is predicated; the narrower width wastes less of a short row);
- the accumulators go through the epilogue straight to the output, a vector at a time.

Each tile is one design space (no sampled decisions: the search measures each once and its
cost model ranks them beside the generic spaces' candidates).

The same tiles serve ``conv2d_dw_rows`` (``rows_sketches``), whose rows are whole vectors:
there the vectors divide the padded row and none is predicated.
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

ROWS = (1, 2, 4, 7)  # output rows in a tile (7: rows of 7, 14, 28, 56 and 112 divide by it)
VECTORS = (1, 2, 4)  # vectors along a row in a tile
# A row's vectors may be up to this share padding (11 outputs in two 8-lane vectors): a
# narrower vector would waste less but run at a fraction of the rate.
MAX_ROW_WASTE = 0.5


@dataclass(frozen=True)
class DepthwiseTile:
    """A register tile: output rows x vectors along a row, each vector ``lanes`` wide."""

    rows: int
    vectors: int
    lanes: int

    @property
    def name(self) -> str:
        return f"dwtile-y{self.rows}-v{self.vectors}x{self.lanes}"


def depthwise_tiles(out_height: int, out_width: int, lanes: int,
                    vector_registers: int) -> list[DepthwiseTile]:
    """The tiles worth searching: full and half vectors, as many per row as the row needs
    at most, accumulators within the register file, and padded tails that are a small share
    of the output (of its rows, and of a row's vectors)."""
    most = accumulator_bounds(vector_registers)[1]
    tiles = []
    for width in (lanes, lanes // 2):
        if width < 2:
            continue
        for vectors in VECTORS:
            if (vectors > -(-out_width // width)
                    or tail_waste(out_width, vectors * width) > MAX_ROW_WASTE):
                continue
            for rows in ROWS:
                if (rows <= out_height and rows * vectors <= most
                        and tail_waste(out_height, rows) <= MAX_TAIL_WASTE):
                    tiles.append(DepthwiseTile(rows, vectors, width))
    return tiles


def tile_planes(sch: Schedule, conv, tile: DepthwiseTile):
    """Split the "conv" block ``(b, o, y, x, *taps)`` into ``tile``'s register tiles over
    the taps, its (image, channel) planes in parallel; returns the plane loop, the tile
    loop along the row and the outermost tap loop."""
    b, o, y, x, *taps = sch.get_loops(conv)
    y_o, y_i = sch.split(y, [None, tile.rows])
    x_o, x_v, x_l = sch.split(x, [None, tile.vectors, tile.lanes])
    sch.reorder(b, o, y_o, x_o, *taps, y_i, x_v, x_l)
    sch.vectorize(x_l)
    sch.unroll(x_v)
    sch.unroll(y_i)
    sch.unroll(taps[-1])
    plane = sch.fuse(b, o)
    sch.parallel(plane)
    return plane, x_o, taps[0]


def depthwise_sketch(tile: DepthwiseTile) -> Sketch:
    """The sketch of one register tile for the NCHW template's "conv" block (see the module)."""

    def apply(sch: Schedule) -> None:
        conv = sch.get_sblock("conv")
        plane, x_o, rc = tile_planes(sch, conv, tile)
        acc = write_tile_through(sch, conv, x_o)
        sch.vectorize(sch.split(sch.get_loops(acc)[-1], [None, tile.lanes])[1])
        init = sch.decompose_reduction(conv, rc)
        sch.vectorize(sch.get_loops(init)[-1])
        sch.compute_at(sch.get_sblock("pad"), plane)

    return Sketch(tile.name, apply)


def depthwise_sketches(target, *, out_height: int, out_width: int,
                       dtype: str) -> list[Sketch]:
    """The register-tiled sketches of an NCHW depthwise conv on ``target`` (CPUs only)."""
    vectors = vector_file(target)
    if vectors is None:
        return []
    return [depthwise_sketch(tile) for tile in depthwise_tiles(
        out_height, out_width, vectors.lanes(dtype), vectors.registers)]


ROW_VECTOR = 16  # elements a padded row of ``conv2d_dw_rows`` is a multiple of


def rows_tiles(out_height: int, row_vectors: int, lanes: int,
               vector_registers: int) -> list[DepthwiseTile]:
    """The tiles of ``conv2d_dw_rows``: whole vectors that divide its padded rows
    (``row_vectors`` of ``ROW_VECTOR`` elements), rows as in ``depthwise_tiles``."""
    most = accumulator_bounds(vector_registers)[1]
    per_row = row_vectors * (ROW_VECTOR // lanes)
    return [DepthwiseTile(rows, vectors, lanes)
            for vectors in range(1, 9) if per_row % vectors == 0
            for rows in ROWS
            if rows <= out_height and rows * vectors <= most
            and tail_waste(out_height, rows) <= MAX_TAIL_WASTE]


def rows_sketch(tile: DepthwiseTile) -> Sketch:
    """The sketch of one register tile for ``conv2d_dw_rows``: as ``depthwise_sketch``, over
    rows of whole vectors; the tile is cropped to the output on its way out."""

    def apply(sch: Schedule) -> None:
        conv = sch.get_sblock("conv")
        plane, x_o, ry = tile_planes(sch, conv, tile)
        write_tile_through(sch, conv, x_o, copy_out="crop")
        init = sch.decompose_reduction(conv, ry)
        sch.vectorize(sch.get_loops(init)[-1])
        sch.compute_at(sch.get_sblock("pad"), plane)

    return Sketch(f"rows-{tile.name}", apply)


def rows_sketches(target, *, out_height: int, row_vectors: int, dtype: str) -> list[Sketch]:
    """The register-tiled sketches of ``conv2d_dw_rows`` on ``target`` (CPUs only)."""
    vectors = vector_file(target)
    if vectors is None:
        return []
    lanes = min(vectors.lanes(dtype), ROW_VECTOR)
    return [rows_sketch(tile) for tile in rows_tiles(
        out_height, row_vectors, lanes, vectors.registers)]
