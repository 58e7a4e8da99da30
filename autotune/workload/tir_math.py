"""Math for kernel templates that LLVM can vectorise.

TVM lowers ``T.exp`` on CPUs to LLVM's ``exp`` intrinsic, which LLVM (without a vector
math library) turns into one scalar ``expf`` call per element, so a loop that calls it is
never vectorised. ``exp`` here is written in arithmetic alone and is vectorised like any
other loop body.
"""

from __future__ import annotations

from tvm.script import tirx as T

# Cody-Waite split of ln 2 and Cephes' expf polynomial on [-ln2/2, ln2/2].
_LN2_HI, _LN2_LO = 0.693359375, -2.12194440e-4
_EXPF_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
              1.6666665459e-1, 5.0000001201e-1)


def fast_expf(x):
    """exp(x) of a float32 expression: within 2 ulp of exp on [-87.3, 88.3] (0.6 measured).
    Inputs are clamped to [-87.34, 88.38], so exp(-inf) is 1e-38, not 0, and large inputs
    give inf from 88.38 on."""
    x = T.max(T.min(x, T.float32(88.3762626647949)), T.float32(-87.3365447504019))
    n = T.floor(x * T.float32(1.44269504088896341) + T.float32(0.5))
    r = x - n * T.float32(_LN2_HI) - n * T.float32(_LN2_LO)
    p = T.float32(_EXPF_POLY[0])
    for c in _EXPF_POLY[1:]:
        p = p * r + T.float32(c)
    two_n = T.reinterpret("float32", T.shift_left(T.Cast("int32", n) + 127, 23))
    return (p * r * r + r + T.float32(1.0)) * two_n


def exp(x):
    """exp(x) of a float expression (float16 or float32), computed and returned as float32."""
    return fast_expf(T.Cast("float32", x))


def sigmoid(x):
    """1 / (1 + exp(-x)) of a float expression, computed and returned as float32."""
    one = T.float32(1)
    return one / (one + exp(-x))


def lane_split(n: int, lanes: int) -> tuple[int, int, int]:
    """``(lanes, blocks, tail)`` for a loop of length ``n`` cut into ``blocks`` whole rows
    of ``lanes`` (fewer lanes when ``n`` is shorter) and a ``tail``: the whole rows can be
    vectorised without a bounds check, whatever ``n`` is (MetaSchedule only tiles by exact
    divisors, so a prime length is otherwise never vectorised)."""
    lanes = min(lanes, n)
    return lanes, n // lanes, n % lanes


def chunk_split(n: int, lanes: int, chunks: int) -> tuple[int, int, int, int, int]:
    """``(lanes, chunks, rows, rest, tail)`` for a reduction of length ``n``: ``chunks``
    runs of ``rows`` whole rows of ``lanes`` each (split across cores and vectorised with no
    bounds check, whatever ``n`` is), ``rest`` whole rows left over and a ``tail`` of
    ``n % lanes``. Fewer chunks (down to one) when ``n`` holds fewer than 8 rows a chunk."""
    lanes = min(lanes, n)
    whole = n // lanes
    chunks = max(1, min(chunks, whole // 8))
    rows = whole // chunks
    return lanes, chunks, rows, whole - chunks * rows, n % lanes
