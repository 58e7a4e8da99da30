"""The kernel template contract: what every file in ``kernels/`` declares."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from autotune.errors import WorkloadError

DTYPES = ("float32", "float16")
# TVM's 32-bit limits: a buffer's elements (indexed with int32 unless told otherwise), and
# MetaSchedule's trial counts and seeds.
INT32_MAX = 2**31 - 1
# A layout variant's role under the "auto" variant policy (``KernelTemplate.auto_role``).
INSTEAD, BESIDE, SKIP = "instead", "beside", ""


@dataclass(frozen=True)
class Param:
    """One template parameter: its name, how to parse it, its default and meaning."""

    name: str
    kind: str  # "int", "pair" (int or (h, w)), "dtype" or "steps" (an ordered set of choices)
    default: Any = None
    doc: str = ""
    choices: tuple[str, ...] = ()  # the steps a "steps" parameter may name
    # False: a workload key leaves the parameter out while it has its default, so a
    # parameter added to a template later does not rename the logs of its old workloads.
    key_when_default: bool = True

    def parse(self, value: Any) -> Any:
        """Turn ``value`` (Python or CLI text) into the canonical type, or raise WorkloadError."""
        if value is None:
            if self.default is None:
                raise WorkloadError(f"missing parameter '{self.name}'")
            value = self.default
        if self.kind == "dtype":
            if value not in DTYPES:
                raise WorkloadError(
                    f"parameter 'dtype': unknown dtype {value!r}; choose one of {', '.join(DTYPES)}"
                )
            return str(value)
        if self.kind == "int":
            return _to_int(self.name, value)
        if self.kind == "pair":
            if isinstance(value, str) and ("," in value or "x" in value):
                value = value.replace("x", ",").strip("()[] ").split(",")
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise WorkloadError(
                        f"parameter '{self.name}': expected an int or an (h, w) pair, got {value!r}"
                    )
                return (_to_int(self.name, value[0]), _to_int(self.name, value[1]))
            v = _to_int(self.name, value)
            return (v, v)
        if self.kind == "steps":
            return self._steps(value)
        raise AssertionError(f"unknown parameter kind {self.kind}")


    def _steps(self, value: Any) -> str:
        """Steps given as ``"bias+relu"``, ``"bias,relu"`` or a list: canonical ``"bias+relu"``."""
        if isinstance(value, str):
            steps = [s for s in re.split(r"[+, ]+", value.strip()) if s]
        elif isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
            steps = list(value)
        else:
            raise WorkloadError(f"parameter '{self.name}': expected steps such as "
                                f"'{'+'.join(self.choices[:2])}', got {value!r}")
        for step in steps:
            if step not in self.choices:
                raise WorkloadError(f"parameter '{self.name}': unknown step {step!r}; "
                                    f"choose from {', '.join(self.choices)}")
        if len(set(steps)) != len(steps):
            raise WorkloadError(f"parameter '{self.name}': a step is named twice in {value!r}")
        return "+".join(steps)


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise WorkloadError(f"parameter '{name}': expected an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise WorkloadError(f"parameter '{name}': expected an integer, got {value!r}")


def require_positive(params: Mapping[str, Any], *names: str) -> None:
    """Raise WorkloadError naming the first parameter that is not > 0 (ints or pairs)."""
    for name in names:
        value = params[name]
        values = value if isinstance(value, tuple) else (value,)
        if any(v <= 0 for v in values):
            raise WorkloadError(f"parameter '{name}' must be positive, got {value!r}")


@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one kernel argument."""

    shape: tuple[int, ...]
    dtype: str

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Sketch:
    """A hand-written design space a template offers: a name and the schedule steps that
    make it (they may sample decisions, which the search then tunes)."""

    name: str
    apply: Callable[[Any], None]  # (tvm.s_tir.Schedule) -> None


def block_names(func) -> set[str]:
    """The names of the blocks of a PrimFunc (``tvm.tirx.PrimFunc``)."""
    import tvm_ffi  # pylint: disable=import-outside-toplevel
    from tvm import s_tir  # pylint: disable=import-outside-toplevel

    names: set[str] = set()
    tvm_ffi.structural_map(func.body, [(s_tir.SBlock, lambda b: names.add(b.name_hint) or b)])
    return names


class KernelTemplate(ABC):
    """A parameterised kernel: TVMScript builder plus everything needed to check and rate it.

    The prim func takes the inputs first and the single output last, in the order of
    ``input_specs`` then ``output_spec``.
    """

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]]
    doc: ClassVar[str] = ""
    # A layout variant computes the same function as the template it names, with the same
    # arguments, through another internal layout (its layout transforms are part of it).
    variant_of: ClassVar[str | None] = None
    # Inputs that are a model's weights: constant in deployment, so they are the same
    # array in every input set that is timed, and a library may pack them once.
    weights: ClassVar[tuple[int, ...]] = ()
    # The block that packs the first weight input into an internal buffer, if the template
    # has one: a kernel deployed with known weights runs it once (``autotune.measure.prepack``).
    weight_pack: ClassVar[str | None] = None

    def auto_role(self, p: dict[str, Any]) -> str:
        """How the "auto" variant policy tunes this layout variant on workload ``p``:
        ``INSTEAD`` of the template it is a variant of (it serves such shapes best),
        ``BESIDE`` it (the faster serves), or not at all (``SKIP``, the default)."""
        return SKIP

    def weight_inputs(self, p: dict[str, Any]) -> tuple[int, ...]:
        """``weights`` for these parameters (a template whose inputs vary with them says)."""
        return self.weights

    def normalize(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Parse and validate raw parameters; unknown names are an error."""
        known = {p.name for p in self.params}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise WorkloadError(
                f"kernel '{self.name}' has no parameter '{unknown[0]}'; "
                f"its parameters are: {', '.join(p.name for p in self.params)}"
            )
        parsed = {p.name: p.parse(raw.get(p.name)) for p in self.params}
        self.check(parsed)
        for what, spec in [*((f"input {i}", s) for i, s in enumerate(self.input_specs(parsed))),
                           ("the output", self.output_spec(parsed))]:
            elements = int(np.prod(spec.shape, dtype=object))
            if elements > INT32_MAX:
                raise WorkloadError(
                    f"{what} of {self.name} would have {elements:,} elements: TVM indexes "
                    f"buffers with 32-bit integers (at most {INT32_MAX:,})")
        return parsed

    def check(self, p: dict[str, Any]) -> None:
        """Cross-parameter validation; raise WorkloadError naming the parameter."""

    @abstractmethod
    def prim_func(self, p: dict[str, Any]):
        """A fresh schedulable TVMScript PrimFunc for these parameters."""

    def prim_func_for(self, p: dict[str, Any], target_kind: str):
        """The PrimFunc for a target kind (``"llvm"``, ``"cuda"``): ``prim_func`` unless a
        template writes one kind its own way. A log holds one target, so one form."""
        return self.prim_func(p)

    @abstractmethod
    def input_specs(self, p: dict[str, Any]) -> list[TensorSpec]:
        """Shapes and dtypes of the inputs, in argument order."""

    @abstractmethod
    def output_spec(self, p: dict[str, Any]) -> TensorSpec:
        """Shape and dtype of the output."""

    @abstractmethod
    def flops(self, p: dict[str, Any]) -> float:
        """Floating-point operations of one call."""

    def bytes_moved(self, p: dict[str, Any]) -> float:
        """Compulsory DRAM traffic of one call: every input read once, the output written once."""
        specs = [*self.input_specs(p), self.output_spec(p)]
        return float(sum(np.prod(s.shape) * np.dtype(s.dtype).itemsize for s in specs))

    @abstractmethod
    def reference(self, p: dict[str, Any], *inputs: np.ndarray) -> np.ndarray:
        """NumPy reference result, computed in float64 and cast to the output dtype."""

    def make_inputs(self, p: dict[str, Any], rng: np.random.Generator) -> list[np.ndarray]:
        """Random inputs in [-1, 1) of the right shapes and dtypes."""
        return [
            rng.uniform(-1.0, 1.0, size=s.shape).astype(s.dtype) for s in self.input_specs(p)
        ]

    def sketches(self, p: dict[str, Any], target) -> list[Sketch]:
        """Design spaces searched beside MetaSchedule's generic ones on ``target`` (a
        ``tvm.target.Target``); none unless a template writes its own."""
        return []

    def reduction_length(self, p: dict[str, Any]) -> int:
        """Terms summed into one output element; widens the float tolerance."""
        return 1

