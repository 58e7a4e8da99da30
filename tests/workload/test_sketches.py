"""Register-tiled sketches (channel-blocked convs, NCHW depthwise convs, GEMM): which tiles,
and correct kernels."""

from __future__ import annotations

import pytest
import tvm
from tvm import s_tir
from tvm.s_tir import meta_schedule as ms

from autotune.kernels.gemm import whole_columns
from autotune.measure.compile import check_numerics, compile_module
from autotune.workload import Workload
from autotune.workload.conv_sketch import conv_tiles
from autotune.workload.depthwise_sketch import MAX_ROW_WASTE, depthwise_tiles, rows_tiles
from autotune.workload.gemm_sketch import MAX_VECTORS, gemm_tiles
from autotune.workload.pointwise_sketch import pointwise_tiles
from autotune.workload.register_tiles import (
    ACCUMULATORS,
    MAX_TAIL_WASTE,
    MIN_ACCUMULATORS,
    tail_waste,
)
from autotune.workload.template import block_names

CASES = {
    # a prime output width (47): every pixel tile but 1 and 47 leaves a predicated tail
    "prime-width": Workload("conv2d_nchwc", c=5, h=9, w=47, k=41, kh=5, kw=1, padding=(2, 0)),
    # 1x1 without padding: the padding block is inlined
    "1x1": Workload("conv2d_nchwc", c=7, h=6, w=10, k=19, kh=1, kw=1),
    "grouped": Workload("conv2d_nchwc", c=12, h=7, w=9, k=24, kh=3, kw=3, groups=3, padding=1),
    "epilogue": Workload("conv2d_nchwc", c=6, h=8, w=11, k=21, kh=3, kw=3, stride=2, padding=1,
                         epilogue="bias+add+relu6"),
    "depthwise": Workload("conv2d_dw_nchwc", c=20, h=9, w=13, k=20, kh=3, kw=3, groups=20,
                          padding=1, dilation=2, epilogue="relu"),
    # SiLU's arithmetic exp inlined into the output tile
    "silu": Workload("conv2d_nchwc", c=6, h=7, w=9, k=16, kh=1, kw=1, epilogue="bias+silu"),
    "batch-tiny": Workload("conv2d_nchwc", n=2, c=5, h=7, w=3, k=3, kh=3, kw=3),
    # NCHW depthwise: a prime row (13), dilation, the whole epilogue
    "dw-nchw": Workload("conv2d", c=20, h=9, w=13, k=20, kh=3, kw=3, groups=20, padding=1,
                        dilation=2, epilogue="bias+add+relu6"),
    # NCHW depthwise, stride 2 (strided loads), a 5x5 stencil, two images
    "dw-nchw-s2": Workload("conv2d", n=2, c=8, h=11, w=37, k=8, kh=5, kw=5, groups=8,
                           stride=2, padding=2),
    # rows of whole vectors: a prime row (13, computed as 16), dilation, the whole epilogue
    "dw-rows": Workload("conv2d_dw_rows", c=20, h=9, w=13, k=20, kh=3, kw=3, groups=20,
                        padding=1, dilation=2, epilogue="bias+add+relu6"),
    # rows of whole vectors, strided both ways, a 5x5 stencil, two images, rows of 19 -> 32
    "dw-rows-s2": Workload("conv2d_dw_rows", n=2, c=8, h=11, w=37, k=8, kh=5, kw=5, groups=8,
                           stride=2, padding=2),
    # pointwise as a GEMM over the flat pixels: 240 pixels, 15 vectors, rows split by tiles
    "pw-nchw": Workload("conv2d_pw_nchw", c=16, h=12, w=20, k=24, kh=1, kw=1),
    # two images, 117 pixels (a predicated last vector), the whole epilogue
    "pw-nchw-epilogue": Workload("conv2d_pw_nchw", n=2, c=5, h=9, w=13, k=11, kh=1, kw=1,
                                 epilogue="bias+add+hardswish"),
    # a prime row count on the padded grid (rows and columns padded, copied out at the tile)
    "gemm-padded": Workload("gemm", m=37, n=60, k=33),
    # the plain grid: a few rows, columns of whole vectors
    "gemm-plain": Workload("gemm", m=5, n=64, k=7),
    # a GEMV over a prime width: whole vectors of columns, and a tail block beside them
    "gemv-split": Workload("gemm", m=1, n=1031, k=9),
    # two rows: the streaming sketch too (the last of the sketches)
    "gemv-rows": Workload("gemm", m=2, n=48, k=10),
    # elementwise ops on the calling thread: whole rows of lanes and a tail; a short vector
    "add-serial": Workload("add", n=4099),
    "fma-short": Workload("fma", n=37),
}


@pytest.mark.parametrize("registers", [16, 32])
def test_tiles_fit_the_registers_and_waste_little(registers):
    tiles = conv_tiles(out_width=47, channel_blocks=6, block_vectors=2, kw=3,
                       vector_registers=registers)
    assert tiles
    for tile in tiles:
        assert tile.pixels * tile.blocks * 2 <= ACCUMULATORS[registers]
        assert 6 % tile.blocks == 0
        assert -(-47 // tile.pixels) * tile.pixels <= 47 * (1 + MAX_TAIL_WASTE)
    assert {t.unroll_kw for t in tiles} == {False, True}
    assert any(47 % t.pixels for t in tiles)  # tiles that do not divide the width are searched


def test_avx512_register_file_takes_larger_tiles():
    largest = {regs: max(t.pixels * t.blocks for t in conv_tiles(47, 6, 2, 3, regs))
               for regs in (16, 32)}
    assert largest[32] > largest[16]


def test_a_tiny_output_still_gets_a_tile():
    assert [(t.pixels, t.blocks) for t in conv_tiles(1, 1, 1, 1, 16)] == [(1, 1)]


@pytest.mark.parametrize(("registers", "lanes"), [(16, 8), (32, 16)])
def test_depthwise_tiles_fit_the_registers_and_waste_little(registers, lanes):
    tiles = depthwise_tiles(out_height=28, out_width=28, lanes=lanes,
                            vector_registers=registers)
    assert tiles
    for tile in tiles:
        assert tile.rows * tile.vectors <= ACCUMULATORS[registers]
        assert tile.lanes in (lanes, lanes // 2)
        assert tail_waste(28, tile.vectors * tile.lanes) <= MAX_ROW_WASTE
        assert tail_waste(28, tile.rows) <= MAX_TAIL_WASTE
    assert {t.lanes for t in tiles} == {lanes, lanes // 2}
    assert any(28 % (t.vectors * t.lanes) for t in tiles)  # a predicated last vector


def test_a_short_row_takes_narrower_vectors():
    # 7 outputs a row: a 16-lane vector would be mostly padding, an 8-lane one is not
    assert {t.lanes for t in depthwise_tiles(7, 7, 16, 32)} == {8}
    assert depthwise_tiles(3, 3, 16, 32) == []  # nothing fits: the generic spaces alone


@pytest.mark.parametrize(("registers", "lanes"), [(16, 8), (32, 16)])
def test_rows_tiles_divide_the_whole_rows_and_fit_the_registers(registers, lanes):
    tiles = rows_tiles(out_height=57, row_vectors=3, lanes=lanes, vector_registers=registers)
    assert tiles
    per_row = 3 * 16 // lanes  # a row of 48 elements
    for tile in tiles:
        assert per_row % tile.vectors == 0 and tile.lanes == lanes
        assert tile.rows * tile.vectors <= ACCUMULATORS[registers]
        assert tail_waste(57, tile.rows) <= MAX_TAIL_WASTE
    assert {t.vectors for t in tiles} == {v for v in (1, 2, 3, 6) if per_row % v == 0}


def test_only_depthwise_convs_get_the_nchw_sketches(cpu):
    dense = Workload("conv2d", c=8, h=9, w=13, k=8, kh=3, kw=3, padding=1)
    assert dense.template.sketches(dense.params, cpu) == []
    nhwc = Workload("conv2d_nhwc", **CASES["dw-nchw"].params)
    assert nhwc.template.sketches(nhwc.params, cpu) == []


@pytest.mark.parametrize(("registers", "lanes", "short"), [(16, 8, 25), (32, 16, 49)])
def test_pointwise_tiles_fit_the_registers_and_waste_little(registers, lanes, short):
    tiles = pointwise_tiles(channels=96, pixels=196, lanes=lanes, vector_registers=registers)
    assert tiles
    for tile in tiles:
        assert MIN_ACCUMULATORS[registers] <= tile.channels * tile.vectors <= \
            ACCUMULATORS[registers]
        assert tile.lanes == lanes
        assert tail_waste(196, tile.vectors * tile.lanes) <= MAX_TAIL_WASTE
        assert tail_waste(96, tile.channels) <= MAX_TAIL_WASTE
    assert any(196 % (t.vectors * t.lanes) for t in tiles)  # a predicated last vector
    # 49 pixels with 16 lanes (25 with 8): half-width vectors (56 lanes, not 64)
    assert {t.lanes for t in pointwise_tiles(160, short, lanes, registers)} == {lanes // 2}
    assert pointwise_tiles(960, 1, 16, 32) == []  # a 1x1 image: no vector of pixels to fill


@pytest.mark.parametrize("registers", [16, 32])
def test_gemm_tiles_fit_the_registers_and_divide_the_columns(registers):
    tiles = gemm_tiles(rows=37, column_vectors=6, vector_registers=registers)
    assert tiles
    for tile in tiles:
        assert tile.rows * tile.vectors <= ACCUMULATORS[registers]
        assert 6 % tile.vectors == 0 and tile.vectors <= MAX_VECTORS
        assert -(-37 // tile.rows) * tile.rows <= 37 * (1 + MAX_TAIL_WASTE)
    assert any(37 % t.rows for t in tiles)  # row tiles that do not divide the rows
    assert gemm_tiles(1, 1, registers) == [type(tiles[0])(1, 1)]  # a skinny product


def test_gemm_sketches_need_columns_of_whole_vectors(cpu):
    wl = Workload("gemm", m=5, n=9, k=7)
    assert wl.template.sketches(wl.params, cpu) == []


@pytest.mark.parametrize(("m", "n", "k", "whole"), [
    (1, 4099, 1023, 4096),  # a GEMV over a prime width: 3 columns in the tail
    (7, 1039, 64, 1024),
    (1, 1001, 1023, 1001),  # too narrow: the tail would be too large a share
    (1, 4104, 64, 4104),  # columns already of whole vectors
    (37, 4099, 129, 4099),  # the padded grid's (its columns are padded instead)
])
def test_a_skinny_product_computes_its_column_tail_apart(cpu, m, n, k, whole):
    wl = Workload("gemm", m=m, n=n, k=k)
    assert whole_columns(m, n, k) == whole
    names = block_names(wl.module(cpu)["main"])
    assert ("C_tail" in names) == (whole != n)


@pytest.mark.parametrize("name", CASES)
def test_every_sketch_computes_the_kernel(cpu, name, tmp_path):
    """Each sketch (random decisions) builds and matches NumPy; its trace, through a
    MetaSchedule JSON log, replays to the same kernel on a fresh module."""
    wl = CASES[name]
    log = ms.database.JSONDatabase(work_dir=str(tmp_path))
    workload = log.commit_workload(wl.module(cpu))
    sketches = wl.template.sketches(wl.params, cpu)
    assert sketches
    for i, sketch in enumerate([*sketches[:-1:max(1, len(sketches) // 3)], sketches[-1]]):
        sch = s_tir.Schedule(wl.module(cpu), seed=i + 1)
        sketch.apply(sch)
        assert check_numerics(compile_module(sch.mod, cpu), wl, cpu) is None, sketch.name
        log.commit_tuning_record(ms.database.TuningRecord(sch.trace, workload, [1e-3], cpu))
        (record,) = ms.database.JSONDatabase(work_dir=str(tmp_path)).get_top_k(workload, 1)
        replay = s_tir.Schedule(wl.module(cpu))
        record.trace.apply_to_schedule(replay, remove_postproc=False)
        tvm.ir.assert_structural_equal(replay.mod, sch.mod)
        (tmp_path / "database_tuning_record.json").unlink()


def test_only_cpus_get_sketches(cpu):
    gpu = tvm.target.Target({"kind": "cuda", "arch": "sm_90"}, host={"kind": "llvm"})
    for name in ("grouped", "gemm-padded"):
        wl = CASES[name]
        assert wl.template.sketches(wl.params, gpu) == []
    assert Workload("conv2d", **CASES["1x1"].params).template.sketches(
        CASES["1x1"].params, cpu) == []


def test_small_elementwise_ops_may_run_on_the_calling_thread(cpu):
    """The "serial" sketch has no parallel loop (the generic rules' spaces all have one)
    and vectorises each row of lanes."""
    wl = CASES["add-serial"]
    (sketch,) = wl.template.sketches(wl.params, cpu)
    sch = s_tir.Schedule(wl.module(cpu))
    sketch.apply(sch)
    kind = tvm.tirx.ForKind
    kinds = [kind(int(sch.get(loop).kind)) for block in ("add", "add_tail")
             for loop in sch.get_loops(sch.get_sblock(block))]
    assert kinds == [kind.SERIAL, kind.VECTORIZED, kind.SERIAL]  # rows, lanes; the tail
    big = Workload("add", n=1 << 20)  # 12 MiB: streamed from memory, by every core
    assert big.template.sketches(big.params, cpu) == []
