"""Vendor-library baselines, by name; each says for itself whether it can run here."""

from __future__ import annotations

from ..errors import AutotuneError
from .base import Baseline
from .cudnn_gpu import CudnnBaseline
from .cupy_gpu import CupyBaseline
from .numpy_cpu import NumpyBaseline
from .onnxruntime_cpu import OnnxRuntimeBaseline
from .torch_cpu import TorchBaseline

BASELINES: dict[str, Baseline] = {
    b.name: b for b in (NumpyBaseline(), TorchBaseline(), OnnxRuntimeBaseline(), CupyBaseline(),
                        CudnnBaseline())
}


def baselines_for(device: str, names: list[str] | None = None) -> list[Baseline]:
    """The baselines competing on ``device`` ("cpu" or "cuda"), optionally only ``names``."""
    unknown = set(names or ()) - set(BASELINES)
    if unknown:
        raise AutotuneError(f"unknown baseline(s): {', '.join(sorted(unknown))}; "
                       f"known: {', '.join(BASELINES)}")
    return [b for b in BASELINES.values() if b.device == device and (not names or b.name in names)]


__all__ = ["BASELINES", "Baseline", "baselines_for"]
