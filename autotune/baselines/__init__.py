"""Vendor-library baselines, by name; each says for itself whether it can run here."""

from __future__ import annotations

from autotune.baselines.base import Baseline
from autotune.baselines.cudnn_gpu import CudnnBaseline
from autotune.baselines.cupy_gpu import CupyBaseline
from autotune.baselines.numpy_cpu import NumpyBaseline
from autotune.baselines.onnxruntime_cpu import OnnxRuntimeBaseline
from autotune.baselines.torch_cpu import TorchBaseline
from autotune.errors import AutotuneError

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
