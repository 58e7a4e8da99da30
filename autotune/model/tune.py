"""Tune a model's convolutions and matmuls, as workloads, under one budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tvm

from ..errors import ModelError
from ..options import SearchOptions
from ..tuning import DEFAULT_LOG_DIR, TuneResult, tune_many
from ..workload import Workload
from .kernels import map_workloads
from .onnx_import import OnnxModel, load_onnx


@dataclass
class ModelTuning:
    """What tuning a model did: its workloads, the calls left to TVM, each workload's result."""

    workloads: list[Workload]
    skipped: list[str]
    results: list[TuneResult]


def tune_model(
    model: OnnxModel | str | Path,
    target: str | dict | tvm.target.Target = "cpu",
    trials: int | None = 64,
    log_dir: str | Path = DEFAULT_LOG_DIR,
    *,
    time_budget: str | float | None = None,
    progress: bool = True,
    search: SearchOptions = SearchOptions(),
) -> ModelTuning:
    """Tune every conv2d and matmul of ``model``; ``trials``/``time_budget`` are totals.

    Each becomes a workload with its own log, as ``autotune tune`` writes it, so a kernel
    tuned for one model (or for a suite) is reused by every other with the same shape.
    ``search`` is ``autotune.tune``'s.
    """
    model = model if isinstance(model, OnnxModel) else load_onnx(model)
    mapping = map_workloads(model.relax_module())
    if not mapping.workloads:
        raise ModelError(
            f"{model.path} has no conv2d or matmul to tune"
            + (f" (left to TVM: {'; '.join(mapping.skipped)})" if mapping.skipped else "")
        )
    results = tune_many(mapping.workloads, target, trials, log_dir, time_budget=time_budget,
                        progress=progress, search=search)
    return ModelTuning(mapping.workloads, mapping.skipped, results)
