"""ONNX Runtime on the CPU: the reference a built model is checked against, and a baseline."""

from __future__ import annotations

import numpy as np

from autotune.model.onnx_import import OnnxModel


def unavailable() -> str | None:
    """None if ONNX Runtime can run here, else a one-line reason."""
    try:
        import onnxruntime  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "onnxruntime is not installed (pip install onnx onnxruntime)"
    return None


def session(model: OnnxModel, threads: int):
    """A CPU inference session using ``threads`` threads, as TVM does."""
    import onnxruntime as ort  # pylint: disable=import-outside-toplevel

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def run(sess, model: OnnxModel, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return sess.run(None, {info.name: x for info, x in zip(model.inputs, inputs)})


def mismatch(got: list[np.ndarray], want: list[np.ndarray], rtol: float = 1e-3) -> str | None:
    """None if every output is close to ONNX Runtime's, else which one differs and by how much."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            return f"output {i} has shape {g.shape}, ONNX Runtime gives {w.shape}"
        scale = float(np.abs(w).max()) if w.size else 0.0
        err = float(np.abs(g.astype(np.float64) - w).max()) if w.size else 0.0
        if not err <= rtol * max(scale, 1e-6):
            return f"output {i} differs from ONNX Runtime: max abs error {err:.3g}, max |ref| {scale:.3g}"
    return None


def max_error(got: list[np.ndarray], want: list[np.ndarray]) -> float:
    """Largest absolute difference over all outputs."""
    return max((float(np.abs(g.astype(np.float64) - w).max()) for g, w in zip(got, want) if w.size),
               default=0.0)
