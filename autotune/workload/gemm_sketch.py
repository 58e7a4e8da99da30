"""Register-tiled sketches for GEMM (a BLAS micro-kernel as a MetaSchedule design space).

MetaSchedule's generic rules tile by exact divisors, so a prime or odd row count leaves no
register tile to choose. A BLAS kernel keeps ``rows x vectors`` accumulators of C in vector
registers over the whole reduction: per step of ``k`` it broadcasts one A value per row
and loads one B vector per column vector. Here, for the "C" block of the gemm template
(``i, j`` spatial, ``r`` the reduction; on the padded grid when the template pads):

- ``i`` is split by a row count that need not divide it (the last tile is predicated),
  ``j`` into column tiles of whole vectors; rows x vectors accumulators stay within the
  register file (one design space per tile shape);
- ``r`` is split by ``sample_perfect_tile`` (the search mutates the depth of a pass);
- the accumulators are a cache-write buffer at the tile, written to C (or through the
  padded grid's copy-out) right there; tiles run in parallel. A column tail computed apart
  (``whole_columns``) is left as the template writes it; its copy into C runs by rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm.s_tir import Schedule

from autotune.workload.register_tiles import (
    MAX_TAIL_WASTE,
    accumulator_bounds,
    tail_waste,
    vector_file,
)
from autotune.workload.template import Sketch, block_names

MAX_VECTORS = 4  # column vectors in a tile: more leaves too few rows to reuse each B load
MAX_STREAM_ROWS = 4  # products this skinny also get the streaming (GEMV) sketch


@dataclass(frozen=True)
class GemmTile:
    """A register tile: rows of C x vectors of columns."""

    rows: int
    vectors: int

    @property
    def name(self) -> str:
        return f"regtile-m{self.rows}-v{self.vectors}"


def gemm_tiles(rows: int, column_vectors: int, vector_registers: int) -> list[GemmTile]:
    """Tiles whose accumulators fit the register file and hide the FMA latency, whose
    column vectors divide the columns, and whose padded last row tile is small."""
    least, most = accumulator_bounds(vector_registers)
    tiles = []
    for floor in (least, 1):  # a skinny product: take what fits when nothing reaches it
        for vectors in range(1, MAX_VECTORS + 1):
            if column_vectors % vectors:
                continue
            for height in range(1, rows + 1):
                if floor <= height * vectors <= most and tail_waste(rows, height) <= MAX_TAIL_WASTE:
                    tiles.append(GemmTile(height, vectors))
        if tiles:
            break
    return tiles


def gemm_sketch(tile: GemmTile, lanes: int) -> Sketch:
    """The sketch of one register tile for the template's "C" block (see the module)."""

    def apply(sch: Schedule) -> None:
        block = sch.get_sblock("C")
        i, j, r = sch.get_loops(block)
        i_o, i_i = sch.split(i, [None, tile.rows])
        j_o, j_v, j_l = sch.split(j, [None, tile.vectors, lanes])
        r_o, r_i = sch.split(r, sch.sample_perfect_tile(r, n=2, max_innermost_factor=512))
        sch.reorder(j_o, i_o, r_o, r_i, i_i, j_v, j_l)
        sch.vectorize(j_l)
        sch.unroll(j_v)
        sch.unroll(i_i)
        sch.parallel(sch.fuse(j_o, i_o))
        names = block_names(sch.mod["main"])
        acc = sch.cache_write(block, 0, "global")
        tile_loop = sch.get_loops(block)[0]
        sch.reverse_compute_at(acc, tile_loop)
        if "unpad" in names:  # the padded grid: the tile goes straight to C
            sch.reverse_compute_at(sch.get_sblock("unpad"), tile_loop)
            sch.compute_inline(acc)
        else:
            sch.vectorize(sch.get_loops(acc)[-1])
        init = sch.decompose_reduction(block, r_o)
        sch.vectorize(sch.get_loops(init)[-1])
        if "pad_b" in names:
            sch.parallel(sch.get_loops(sch.get_sblock("pad_b"))[0])
        if "unsplit" in names:  # the split grid's copy of both column blocks into C
            sch.parallel(sch.get_loops(sch.get_sblock("unsplit"))[0])

    return Sketch(tile.name, apply)


def stream_sketch(lanes: int) -> Sketch:
    """The sketch of a skinny product (a GEMV): each core streams a band of B's columns,
    row after row, into accumulators of the whole band (in L1), a few rows of B at a time
    (``r`` split by ``sample_perfect_tile``, unrolled inside each vector), so that each
    accumulator is loaded and stored once per few rows of B, as BLAS's GEMV kernels do."""

    def apply(sch: Schedule) -> None:
        block = sch.get_sblock("C")
        i, j, r = sch.get_loops(block)
        j_vectors, j_l = sch.split(j, [None, lanes])
        j_o, j_v = sch.split(j_vectors, sch.sample_perfect_tile(j_vectors, n=2))
        r_o, r_i = sch.split(r, sch.sample_perfect_tile(r, n=2, max_innermost_factor=16))
        sch.reorder(j_o, r_o, j_v, i, r_i, j_l)
        sch.parallel(j_o)
        sch.vectorize(j_l)
        sch.unroll(r_i)
        sch.unroll(i)
        acc = sch.cache_write(block, 0, "global")
        sch.reverse_compute_at(acc, j_o)
        sch.vectorize(sch.get_loops(acc)[-1])
        init = sch.decompose_reduction(block, r_o)
        sch.vectorize(sch.get_loops(init)[-1])
        if "unsplit" in block_names(sch.mod["main"]):
            sch.parallel(sch.get_loops(sch.get_sblock("unsplit"))[0])

    return Sketch("stream", apply)


def gemm_sketches(target, *, rows: int, columns: int, dtype: str) -> list[Sketch]:
    """The register-tiled sketches of a ``rows x columns`` C on ``target`` (CPUs only;
    none unless the columns are whole vectors)."""
    vectors = vector_file(target)
    if vectors is None or columns % vectors.lanes(dtype):
        return []
    lanes = vectors.lanes(dtype)
    sketches = [gemm_sketch(tile, lanes)
                for tile in gemm_tiles(rows, columns // lanes, vectors.registers)]
    if rows <= MAX_STREAM_ROWS:
        sketches.append(stream_sketch(lanes))
    return sketches
