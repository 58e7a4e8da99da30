"""A workload: a kernel template plus validated parameters, with a stable readable key."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import tvm

from autotune.errors import WorkloadError
from autotune.workload.registry import get_template, variants_of
from autotune.workload.template import BESIDE, INSTEAD, KernelTemplate, TensorSpec

# Short forms used in keys; other parameter names appear in full.
# Which layout variants a search tunes for a workload (``Workload.variants``).
VARIANT_POLICIES = ("none", "auto", "all")
_KEY_ABBREV = {"stride": "s", "padding": "p", "dilation": "d", "groups": "g", "epilogue": "e"}


class Workload:
    """One kernel instance. ``key`` names it in log folders, packages and symbols."""

    def __init__(self, kernel: str, **params: Any) -> None:
        self.template: KernelTemplate = get_template(kernel)
        self.kernel = kernel
        self.params: dict[str, Any] = self.template.normalize(params)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Workload":
        return cls(data["kernel"], **data["params"])

    @classmethod
    def from_key(cls, key: str) -> "Workload":
        """Parse a key such as ``gemm-m64-n65-k66-float32`` back into a Workload."""
        kernel, *fields = key.split("-")
        template = get_template(kernel)
        keyed = [p for p in template.params if p.name != "dtype"]
        params: dict[str, Any] = {}
        rest = fields[:-1]
        for param in keyed:
            prefix = _KEY_ABBREV.get(param.name, param.name)
            if rest and rest[0].startswith(prefix):
                params[param.name] = rest.pop(0)[len(prefix):]
            elif param.key_when_default:
                got = repr(rest[0]) if rest else "the end"
                raise WorkloadError(
                    f"malformed workload key {key!r}: expected '{prefix}<v>', got {got}; "
                    f"{kernel} keys look like "
                    + "-".join([kernel, *(_KEY_ABBREV.get(p.name, p.name) + "<v>"
                                          for p in keyed), "<dtype>"]))
        if rest or not fields:
            raise WorkloadError(f"malformed workload key {key!r}: unexpected fields {rest or fields}")
        params["dtype"] = fields[-1]
        return cls(kernel, **params)

    def to_json(self) -> dict[str, Any]:
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return {"kernel": self.kernel, "params": params}

    @property
    def key(self) -> str:
        """E.g. ``conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32``."""
        parts = [self.kernel]
        for param in self.template.params:
            name, value = param.name, self.params[param.name]
            if name == "dtype" or not param.key_when_default and value == param.default:
                continue
            text = "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
            parts.append(f"{_KEY_ABBREV.get(name, name)}{text}")
        parts.append(self.params["dtype"])
        return "-".join(parts)

    def variants(self, policy: str = "all") -> list["Workload"]:
        """The workloads tuned for this one under a variant ``policy``.

        All take the same arguments and compute the same result; each is tuned into its
        own log, and the fastest validated one serves calls to this workload. "all": this
        workload and every layout variant that accepts its parameters; "none": this one
        alone; "auto": the variants whose template expects to pay on this shape
        (``KernelTemplate.auto_role``), beside this one or instead of it.
        """
        if policy not in VARIANT_POLICIES:
            raise WorkloadError(f"unknown variant policy {policy!r}; "
                                f"choose one of {', '.join(VARIANT_POLICIES)}")
        if policy == "none":
            return [self]
        found = []
        for template in variants_of(self.kernel):
            try:
                found.append(Workload(template.name, **self.params))
            except WorkloadError:  # e.g. a blocked layout that needs groups=1
                continue
        if policy == "all":
            return [self, *found]
        roles = {v: v.template.auto_role(v.params) for v in found}
        chosen = [v for v in found if roles[v] in (INSTEAD, BESIDE)]
        return chosen if INSTEAD in roles.values() else [self, *chosen]

    @property
    def base(self) -> "Workload":
        """The workload a variant stands in for (itself if it is no variant)."""
        if self.template.variant_of is None:
            return self
        return Workload(self.template.variant_of, **self.params)

    @property
    def symbol(self) -> str:
        """The key as a C identifier: the function name inside an exported library."""
        return re.sub(r"[^0-9A-Za-z_]", "_", self.key)

    def prim_func(self, target: tvm.target.Target | None = None):
        """A fresh TVMScript PrimFunc (scheduling may mutate the one it is given), as the
        template writes it for ``target``'s kind (its generic one when None)."""
        if target is None:
            return self.template.prim_func(self.params)
        return self.template.prim_func_for(self.params, target.kind.name)

    def module(self, target: tvm.target.Target | None = None) -> tvm.IRModule:
        """A fresh IRModule holding the PrimFunc as ``main``: the MetaSchedule workload."""
        return tvm.IRModule({"main": self.prim_func(target)})

    @property
    def input_specs(self) -> list[TensorSpec]:
        return self.template.input_specs(self.params)

    @property
    def output_spec(self) -> TensorSpec:
        return self.template.output_spec(self.params)

    @property
    def weight_inputs(self) -> tuple[int, ...]:
        """The inputs that are a model's weights (constant once deployed)."""
        return self.template.weight_inputs(self.params)

    @property
    def flops(self) -> float:
        return self.template.flops(self.params)

    @property
    def bytes_moved(self) -> float:
        return self.template.bytes_moved(self.params)

    def make_inputs(self, seed: int = 0) -> list[np.ndarray]:
        return self.template.make_inputs(self.params, np.random.default_rng(seed))

    def reference(self, *inputs: np.ndarray) -> np.ndarray:
        return self.template.reference(self.params, *inputs)

    def tolerance(self) -> tuple[float, float]:
        """(rtol, atol) for comparing a kernel's output with the reference."""
        eps = float(np.finfo(self.params["dtype"]).eps)
        terms = max(1, self.template.reduction_length(self.params))
        # Rounding error of a reduction grows between sqrt(terms) (random) and terms (worst case).
        atol = 4 * eps * terms**0.75 + eps
        rtol = 64 * eps if self.params["dtype"] == "float32" else 16 * eps
        return rtol, atol

    def check(self, output: np.ndarray, inputs: list[np.ndarray]) -> str | None:
        """None if ``output`` matches the reference, else a one-line description of the error."""
        expected = self.reference(*inputs)
        if output.shape != expected.shape:
            return f"shape {output.shape} != expected {expected.shape}"
        got, want = output.astype(np.float64), expected.astype(np.float64)
        rtol, atol = self.tolerance()
        bad = ~np.isclose(got, want, rtol=rtol, atol=atol)
        if bad.any():
            err = np.abs(got - want)
            return (
                f"{int(bad.sum())} of {bad.size} elements differ from the NumPy reference "
                f"(max abs error {err.max():.3g}, tolerance {atol:.3g} + {rtol:.3g}*|ref|)"
            )
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workload) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Workload({self.key!r})"
