"""Read an ONNX file into TVM's Relax IR, with its inputs' static shapes and a checksum."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autotune.errors import ModelError, first_line, last_line

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
            return from_onnx(shapes_folded(self.proto))
        except Exception as err:  # the frontend raises many kinds for unsupported graphs
            raise ModelError(f"TVM's ONNX frontend cannot import {self.path}: "
                             f"{last_line(err)}") from None

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [info.random(rng) for info in self.inputs]


# Operators whose outputs are constants once the inputs' shapes are static: PyTorch's exporter
# computes a Slice's bounds or a Reshape's shape from them (``x.chunk(2, dim=1)`` in
# ShuffleNetV2), which TVM's importer leaves as tensors of unknown shape.
SHAPE_OPS = frozenset({"Shape", "Size"})


def shapes_folded(proto):
    """``proto`` with its shape computations folded into constants by ONNX Runtime's basic
    graph optimizations (constant folding and eliminations, standard operators only), where
    it has any; else ``proto`` itself."""
    if not any(node.op_type in SHAPE_OPS for node in proto.graph.node):
        return proto
    import onnx  # pylint: disable=import-outside-toplevel
    import onnxruntime as ort  # pylint: disable=import-outside-toplevel

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(Path(tmp) / "folded.onnx")
        options.log_severity_level = 3
        try:
            ort.InferenceSession(proto.SerializeToString(), options,
                                 providers=["CPUExecutionProvider"])
        except Exception as err:  # ONNX Runtime raises its own kinds
            raise ModelError(f"ONNX Runtime cannot fold the model's shape computations: "
                             f"{first_line(err)}") from None
        return onnx.load(options.optimized_model_filepath)


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
