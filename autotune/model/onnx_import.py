"""Read an ONNX file into TVM's Relax IR, with its inputs' static shapes and a checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autotune.errors import ModelError

ONNX_TYPES = {1: "float32", 10: "float16", 11: "float64", 6: "int32", 7: "int64", 9: "bool"}


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output: name, static shape, dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    def random(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1, 1, self.shape).astype(self.dtype)


@dataclass(frozen=True)
class OnnxModel:
    """A loaded ONNX model with static input shapes."""

    path: Path
    proto: object  # onnx.ModelProto
    sha256: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def name(self) -> str:
        return self.path.stem

    def relax_module(self):
        """The model as a Relax IRModule (weights bound as constants)."""
        from tvm.relax.frontend.onnx import from_onnx  # pylint: disable=import-outside-toplevel

        try:
            return from_onnx(self.proto)
        except Exception as err:  # the frontend raises many kinds for unsupported graphs
            first = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise ModelError(f"TVM's ONNX frontend cannot import {self.path}: {first}") from None

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [info.random(rng) for info in self.inputs]


def load_onnx(path: str | Path) -> OnnxModel:
    """Load and check ``path``; ModelError for a missing, invalid or dynamic-shaped model."""
    try:
        import onnx  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise ModelError("ONNX models need the onnx package: pip install onnx") from None
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no ONNX model at {path}")
    data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto)
    except Exception as err:  # DecodeError, ValidationError
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelError(f"{path} is not a valid ONNX model: {first}") from None
    initializers = {t.name for t in proto.graph.initializer}
    inputs = tuple(_info(v, path) for v in proto.graph.input if v.name not in initializers)
    outputs = tuple(_info(v, path) for v in proto.graph.output)
    return OnnxModel(path, proto, hashlib.sha256(data).hexdigest(), inputs, outputs)


def _info(value, path: Path) -> TensorInfo:
    tensor = value.type.tensor_type
    dims = []
    for dim in tensor.shape.dim:
        if not dim.HasField("dim_value"):
            raise ModelError(
                f"{path}: {value.name} has a dynamic dimension {dim.dim_param or '?'}; "
                "tuning needs static shapes (fix them, e.g. with onnx.tools.update_model_dims)"
            )
        dims.append(dim.dim_value)
    if tensor.elem_type not in ONNX_TYPES:
        raise ModelError(f"{path}: {value.name} has an unsupported element type {tensor.elem_type}")
    return TensorInfo(value.name, tuple(dims), ONNX_TYPES[tensor.elem_type])
