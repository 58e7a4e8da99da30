"""Shared parameters and validation of the 1-D vector kernel templates."""

from __future__ import annotations

from typing import Any

from tvm.s_tir import Schedule

from autotune.workload.register_tiles import vector_file
from autotune.workload.template import (
    KernelTemplate,
    Param,
    Sketch,
    TensorSpec,
    require_positive,
)


class VectorKernel(KernelTemplate):
    """A kernel over vectors of length ``n``: ``arity`` inputs, one output of length ``n``."""

    arity: int = 1
    params = (
        Param("n", "int", None, "vector length"),
        Param("dtype", "dtype", "float32", "element type"),
    )

    def check(self, p: dict[str, Any]) -> None:
        require_positive(p, "n")

    def input_specs(self, p: dict[str, Any]) -> list[TensorSpec]:
        return [TensorSpec((p["n"],), p["dtype"])] * self.arity

    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        return TensorSpec((p["n"],), p["dtype"])


class ElementwiseKernel(VectorKernel):
    """An elementwise vector kernel written as the template's block ``name`` over whole rows
    of lanes (``ib``, ``lane``), then a scalar ``<name>_tail`` block."""

    def sketches(self, p: dict[str, Any], target) -> list[Sketch]:
        small = self.bytes_moved(p) <= MAX_SERIAL_BYTES
        return [on_the_calling_thread(self.name)] if small and vector_file(target) else []


# Operands (inputs and output, bytes) of an elementwise op that may run on one thread: a
# few microseconds of work at most, in cache. Larger ones are not offered it: the search
# measures in cache, where one core streamed a 12 MB add (146 us) faster than the generic
# spaces' parallel candidates after 32 trials, and the same kernel then took 363 us from
# memory against 130 us for a parallel one.
MAX_SERIAL_BYTES = 128 << 10


def on_the_calling_thread(block: str) -> Sketch:
    """The rows one after the other on the calling thread, each row's lanes a vector: for a
    vector short enough that waking the thread pool costs more than the work (a 4096-float
    add takes under half a microsecond on one core; a parallel one took 1.5 us), which
    MetaSchedule's generic rules, always parallel, never try. Measured beside them."""

    def apply(sch: Schedule) -> None:
        loops = sch.get_loops(sch.get_sblock(block))
        sch.vectorize(loops[-1])

    return Sketch("serial", apply)
