"""Dense matrix multiply C[m, n] = A[m, k] @ B[k, n].

MetaSchedule tiles a loop only by exact divisors of its length, so a prime ``m`` or an
``n`` of 255 leaves it no register block to choose (measured here: 257x255x129 ran 1.6x
slower than 256x256x128 after the same search). When ``m`` or ``n`` is such a length, and
the product is large enough to pay for copies of B and C (``padded_grid``), it is computed
on a padded grid: B is copied into a buffer whose columns are zero-padded, C is computed
over those columns and over padded rows (rows past ``m`` read zeros), then copied out. The
copies are blocks of the kernel, tuned and timed with it. A skinny product (too few rows
or too short a reduction for the copies to pay) over a wide, odd number of columns computes
its whole vectors of columns in one block and the few columns left in another
(``whole_columns``), each into a buffer of its own, copied into C (a copy of B would double
the memory a GEMV reads; C's copy is 1/k of the work).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm.script import tirx as T

from autotune.workload.gemm_sketch import gemm_sketches
from autotune.workload.template import KernelTemplate, Param, TensorSpec, require_positive


class Gemm(KernelTemplate):
    name = "gemm"
    doc = "C[m,n] = sum_k A[m,k] * B[k,n]"
    params = (
        Param("m", "int", None, "rows of A and C"),
        Param("n", "int", None, "columns of B and C"),
        Param("k", "int", None, "reduction length"),
        Param("dtype", "dtype", "float32", "element type"),
    )

    def check(self, p: dict[str, Any]) -> None:
        require_positive(p, "m", "n", "k")

    def input_specs(self, p: dict[str, Any]) -> list[TensorSpec]:
        return [TensorSpec((p["m"], p["k"]), p["dtype"]), TensorSpec((p["k"], p["n"]), p["dtype"])]

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((p["m"], p["n"]), p["dtype"])

    def reduction_length(self, p: dict[str, Any]) -> int:
        return p["k"]

    def flops(self, p: dict[str, Any]) -> float:
        return 2.0 * p["m"] * p["n"] * p["k"]

    def reference(self, p: dict[str, Any], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(p["dtype"])

    def sketches(self, p: dict[str, Any], target):
        rows, columns = padded_grid(p["m"], p["n"], p["k"])
        if (rows, columns) == (p["m"], p["n"]):
            columns = whole_columns(p["m"], p["n"], p["k"])
        return gemm_sketches(target, rows=rows, columns=columns, dtype=p["dtype"])

    def prim_func(self, p: dict[str, Any]):
        grid = padded_grid(p["m"], p["n"], p["k"])
        if grid != (p["m"], p["n"]):
            return self._padded(p, *grid)
        whole = whole_columns(p["m"], p["n"], p["k"])
        return self._plain(p) if whole == p["n"] else self._split(p, whole)

    def _plain(self, p: dict[str, Any]):
        m, n, k, dtype = p["m"], p["n"], p["k"], p["dtype"]

        @T.prim_func(s_tir=True)
        def gemm(
            A: T.Buffer((m, k), dtype), B: T.Buffer((k, n), dtype), C: T.Buffer((m, n), dtype)
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            for i, j, r in T.grid(m, n, k):
                with T.sblock("C"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        C[vi, vj] = T.cast(0, dtype)
                    C[vi, vj] = C[vi, vj] + A[vi, vr] * B[vr, vj]

        return gemm

    def _split(self, p: dict[str, Any], whole: int):
        m, n, k, dtype = p["m"], p["n"], p["k"], p["dtype"]
        tail = n - whole

        @T.prim_func(s_tir=True)
        def gemm_split(
            A: T.Buffer((m, k), dtype), B: T.Buffer((k, n), dtype), C: T.Buffer((m, n), dtype)
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Cm = T.sblock_alloc_buffer((m, whole), dtype)
            Ct = T.sblock_alloc_buffer((m, tail), dtype)
            for i, j, r in T.grid(m, whole, k):
                with T.sblock("C"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        Cm[vi, vj] = T.cast(0, dtype)
                    Cm[vi, vj] = Cm[vi, vj] + A[vi, vr] * B[vr, vj]
            for i, j, r in T.grid(m, tail, k):
                with T.sblock("C_tail"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        Ct[vi, vj] = T.cast(0, dtype)
                    Ct[vi, vj] = Ct[vi, vj] + A[vi, vr] * B[vr, whole + vj]
            for i, j in T.grid(m, n):
                with T.sblock("unsplit"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    C[vi, vj] = T.if_then_else(vj < whole, Cm[vi, T.min(vj, whole - 1)],
                                               Ct[vi, T.max(vj - whole, 0)])

        return gemm_split

    def _padded(self, p: dict[str, Any], mp: int, np_: int):
        m, n, k, dtype = p["m"], p["n"], p["k"], p["dtype"]

        @T.prim_func(s_tir=True)
        def gemm_padded(
            A: T.Buffer((m, k), dtype), B: T.Buffer((k, n), dtype), C: T.Buffer((m, n), dtype)
        ):
            T.func_attr({"global_symbol": "main", "tirx.noalias": True})
            Bp = T.sblock_alloc_buffer((k, np_), dtype)
            Cp = T.sblock_alloc_buffer((mp, np_), dtype)
            for r, j in T.grid(k, np_):
                with T.sblock("pad_b"):
                    vr, vj = T.axis.remap("SS", [r, j])
                    Bp[vr, vj] = T.if_then_else(vj < n, B[vr, vj], T.cast(0, dtype))
            for i, j, r in T.grid(mp, np_, k):
                with T.sblock("C"):
                    vi, vj, vr = T.axis.remap("SSR", [i, j, r])
                    with T.init():
                        Cp[vi, vj] = T.cast(0, dtype)
                    Cp[vi, vj] = Cp[vi, vj] + T.if_then_else(
                        vi < m, A[vi, vr], T.cast(0, dtype)) * Bp[vr, vj]
            for i, j in T.grid(m, n):
                with T.sblock("unpad"):
                    vi, vj = T.axis.remap("SS", [i, j])
                    C[vi, vj] = Cp[vi, vj]

        return gemm_padded


# Fewer rows than this, or a shorter reduction, and copying B and C costs more than the
# padded grid saves: B's copy is 1/m of the product's multiply-adds, C's 1/k. Measured
# here after 128 trials each: padding won at 37x1001x129 (2x), 61x129x77 (1.35x) and
# 1000x999x64 (1.16x), lost at 8x333x255 (0.5x) and, where n already had a divisor of 8,
# at 500x1000x64 (0.8x).
MIN_PADDED_ROWS = 32
MIN_PADDED_DEPTH = 32


def padded_grid(m: int, n: int, k: int) -> tuple[int, int]:
    """The (rows, columns) C is computed over. ``m`` if it has a divisor from 2 to 8, else
    rounded up to a multiple of 8, 4 or 2 (the largest that adds at most m/8 rows); ``n``
    if a multiple of 8, else rounded up to a multiple of 16 (of 8 below 64 columns).
    ``(m, n)`` itself for fewer than ``MIN_PADDED_ROWS`` rows or ``MIN_PADDED_DEPTH`` of k."""
    if m < MIN_PADDED_ROWS or k < MIN_PADDED_DEPTH:
        return m, n
    rows = m if any(m % d == 0 for d in range(2, 9)) else next(
        (_round_up(m, b) for b in (8, 4, 2) if _round_up(m, b) - m <= m / 8), m)
    return rows, n if n % 8 == 0 else _round_up(n, 16 if n >= 64 else 8)


# Column tails are computed apart from whole vectors of columns only in products this wide:
# the tail (under COLUMN_BLOCK columns) is then at most 1.5% of the work, left unvectorised.
MIN_SPLIT_COLUMNS = 1024
COLUMN_BLOCK = 16  # 16 float32 lanes: one AVX-512 vector, two AVX2 vectors


def whole_columns(m: int, n: int, k: int) -> int:
    """The columns C computes in its main block where no padded grid is used: ``n`` rounded
    down to a multiple of ``COLUMN_BLOCK`` when ``n`` has no divisor of 8 and at least
    ``MIN_SPLIT_COLUMNS`` columns (a skinny product such as a GEMV over a prime width, whose
    columns MetaSchedule could otherwise never split into vectors); else ``n``. The other
    columns are a block of their own ("C_tail"); one copy ("unsplit") writes both into C."""
    if padded_grid(m, n, k) != (m, n) or n % 8 == 0 or n < MIN_SPLIT_COLUMNS:
        return n
    return n - n % COLUMN_BLOCK


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


TEMPLATE = Gemm()
