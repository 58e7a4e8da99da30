"""Whole ONNX models: tune their convolutions and matmuls as workloads, build with the logs.

The path is the kernels' own: every conv2d and matmul of the model becomes a ``Workload``
(tuned, logged and validated against NumPy like any other), and the model is built with
the fastest validated record of each spliced into TVM's Relax graph. Modules load on first
use, so ``from autotune.model.package import load_model_package`` pulls in no tuning code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_onnx": "autotune.model.onnx_import",
    "OnnxModel": "autotune.model.onnx_import",
    "map_workloads": "autotune.model.kernels",
    "tune_model": "autotune.model.tune",
    "build_model": "autotune.model.build",
    "compare_model": "autotune.model.compare",
    "load_model_package": "autotune.model.package",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'autotune.model' has no attribute {name!r}")
