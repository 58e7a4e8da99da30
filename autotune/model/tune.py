"""Tune a model's convolutions and matmuls, as workloads, under one budget."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import tvm

from autotune.errors import ModelError
from autotune.logs.store import DEFAULT_LOG_DIR
from autotune.model.kernels import map_workloads
from autotune.model.onnx_import import OnnxModel, load_onnx
from autotune.search.options import Budget, SearchOptions
from autotune.search.tune import TuneResult, tune_budget
from autotune.search.workers import Workers
from autotune.workload import Workload


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
    workers: Workers | None = None,
) -> ModelTuning:
    """Tune every conv2d and matmul of ``model``; ``trials``/``time_budget`` are totals.

    Each becomes a workload with its own log, as ``autotune tune`` writes it, so a kernel
    tuned for one model (or for a suite) is reused by every other with the same shape.
    ``search`` is ``autotune.tune``'s (each conv in the layouts expected to pay on its
    shape by default).
    """
    return tune_model_budget(model, target, Budget(trials, time_budget, log_dir),
                             progress=progress, search=search, workers=workers)


def tune_model_budget(
    model: OnnxModel | str | Path,
    target: str | dict | tvm.target.Target,
    budget: Budget,
    *,
    progress: bool = True,
    search: SearchOptions = SearchOptions(),
    workers: Workers | None = None,
) -> ModelTuning:
    """``tune_model`` with its budget and logs as one value; with neither a trial count nor
    a time budget, 64 trials per kernel."""
    model = model if isinstance(model, OnnxModel) else load_onnx(model)
    mapping = map_workloads(model.relax_module())
    if not mapping.workloads:
        raise ModelError(
            f"{model.path} has no conv2d or matmul to tune"
            + (f" (left to TVM: {'; '.join(mapping.skipped)})" if mapping.skipped else "")
        )
    if budget.trials is None and budget.time_budget is None:
        budget = replace(budget, trials=64 * len(mapping.workloads))
    # A kernel the network calls three times is three times its share of the network's time.
    results = tune_budget(mapping.workloads, target, budget, progress=progress, search=search,
                          workers=workers, weights=mapping.counts)
    return ModelTuning(mapping.workloads, mapping.skipped, results)
