"""Shared parameters and validation of the 1-D vector kernel templates."""

from __future__ import annotations

from typing import Any

from autotune.workload.template import KernelTemplate, Param, TensorSpec, require_positive


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
