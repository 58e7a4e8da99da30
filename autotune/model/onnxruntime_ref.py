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


def session(model: OnnxModel, threads: int, profile_prefix: str | None = None):
    """A CPU inference session using ``threads`` threads, as TVM does; with
    ``profile_prefix``, ONNX Runtime's profiler writes there (``end_profiling``)."""
    import onnxruntime as ort  # pylint: disable=import-outside-toplevel

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(model.proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def run(sess, model: OnnxModel, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return sess.run(None, {info.name: x for info, x in zip(model.inputs, inputs)})


def mismatch(got: list[np.ndarray], want: list[np.ndarray], rtol: float = 1e-3) -> str | None:
    """None if every output is within ``rtol`` of ONNX Runtime's, relative to that output's
    largest magnitude (so outputs of 1e-9 are held to errors of 1e-12), else which differs."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            return f"output {i} has shape {g.shape}, ONNX Runtime gives {w.shape}"
        err, scale = _errors(g, w)
        if not err <= rtol * scale:
            return (f"output {i} differs from ONNX Runtime: max abs error {err:.3g}, "
                    f"max |ref| {scale:.3g}")
    return None


def error_summary(got: list[np.ndarray], want: list[np.ndarray]) -> dict[str, float]:
    """The largest absolute difference over all outputs, the largest reference magnitude,
    and the largest per-output ratio of the two (the number ``mismatch`` holds to rtol)."""
    pairs = [_errors(g, w) for g, w in zip(got, want)]
    return {"max_abs_error": max((e for e, _ in pairs), default=0.0),
            "max_abs_ref": max((s for _, s in pairs), default=0.0),
            "rel_error": max((e / s for e, s in pairs), default=0.0)}


def describe(summary: dict[str, float]) -> str:
    """E.g. ``max abs error 1.7e-15 against outputs up to 3e-09 (relative 5.7e-07)``."""
    return (f"max abs error {summary['max_abs_error']:.2g} against outputs up to "
            f"{summary['max_abs_ref']:.2g} (relative {summary['rel_error']:.2g})")


def _errors(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    """(max |got - want|, max |want|), the latter never 0 (the smallest normal float64)."""
    if not want.size:
        return 0.0, np.finfo(np.float64).tiny
    err = float(np.abs(got.astype(np.float64) - want).max())
    return err, max(float(np.abs(want).max()), np.finfo(np.float64).tiny)
