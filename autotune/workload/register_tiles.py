"""What a register-tiled sketch may hold: the vector register file of a CPU target, how
many accumulators a tile may keep in it, how much of a predicated last tile may be
wasted, and how the tile is written out. Shared by the conv and GEMM sketches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tvm.s_tir import Schedule

from autotune.workload.template import block_names

# Vector registers an accumulator tile may take: the rest hold the loaded vectors and a
# broadcast value (16 registers with AVX2, 32 with AVX-512).
ACCUMULATORS = {16: 12, 32: 28}
# Fewer independent accumulators than FMA latency x FMA units leave the units idle.
MIN_ACCUMULATORS = {16: 6, 32: 12}
MAX_TAIL_WASTE = 0.25  # a tile may compute at most this share of padded rows or pixels


@dataclass(frozen=True)
class VectorFile:
    """A CPU's widest float vectors and how many vector registers it has."""

    bits: int

    @property
    def registers(self) -> int:
        return 32 if self.bits == 512 else 16

    def lanes(self, dtype: str) -> int:
        """Elements of ``dtype`` a vector holds."""
        return self.bits // (np.dtype(dtype).itemsize * 8)


def vector_file(target) -> VectorFile | None:
    """The vector register file of a CPU ``target``; None for other targets."""
    if target is None or target.kind.name != "llvm":
        return None
    from autotune.hardware.isa import vector_bits  # pylint: disable=import-outside-toplevel

    return VectorFile(vector_bits(target))


def accumulator_bounds(vector_registers: int) -> tuple[int, int]:
    """The fewest and most accumulators a tile keeps in ``vector_registers`` registers."""
    return (MIN_ACCUMULATORS.get(vector_registers, vector_registers // 3),
            ACCUMULATORS.get(vector_registers, vector_registers * 3 // 4))


def tail_waste(extent: int, tile: int) -> float:
    """The share of ``extent`` that tiles of ``tile`` compute past its end."""
    return -(-extent // tile) * tile / extent - 1


def write_tile_through(sch: Schedule, block, tile_loop, copy_out: str | None = None):
    """Keep ``block``'s outputs of one tile in a buffer of their own at ``tile_loop`` (vector
    registers, once the tile is unrolled), written out right there: through the template's
    ``copy_out`` block into the output if it has one (the blocked layouts' "unpack"), and
    through its "epilogue" if it has one. Returns the block that writes the tile out."""
    acc = sch.cache_write(block, 0, "global")
    sch.reverse_compute_at(acc, tile_loop)
    writer = acc
    if copy_out is not None:
        writer = sch.get_sblock(copy_out)
        sch.reverse_compute_at(writer, tile_loop)
        sch.compute_inline(acc)
    if "epilogue" in block_names(sch.mod["main"]):
        sch.reverse_compute_inline(sch.get_sblock("epilogue"))
    return writer
