"""TVM's own whole-model tuning, the anchor a tuned build is measured against.

``tvm.relax.pipeline.static_shape_tuning_pipeline`` fuses the graph as TVM does, extracts
every fused function as a MetaSchedule task, tunes them under one trial budget (its task
scheduler weighs tasks by their count in the graph) and applies the database. Nothing of
autotune's search runs here: this is what a user would get from TVM alone.
"""

from __future__ import annotations

from pathlib import Path

import tvm
from tvm import relax

from autotune.hardware.target import resolve_target
from autotune.model.onnx_import import OnnxModel, load_onnx


def relax_tuned_build(
    model: OnnxModel | str | Path,
    target: str | dict | tvm.target.Target,
    trials: int,
    work_dir: str | Path,
    max_trials_per_task: int | None = None,
) -> relax.VMExecutable:
    """``model`` tuned by TVM's static-shape pipeline for ``trials`` in total, compiled.

    ``work_dir`` holds MetaSchedule's database; a second call with the same one tunes
    further (``trials`` more) and applies everything found so far. ``trials=0`` applies
    the database as it is.
    """
    model = model if isinstance(model, OnnxModel) else load_onnx(model)
    tgt = resolve_target(target)
    pipeline = relax.pipeline.static_shape_tuning_pipeline(
        total_trials=trials, target=tgt, work_dir=str(work_dir),
        max_trials_per_task=max_trials_per_task)
    mod = pipeline(model.relax_module())
    return tvm.compile(mod, target=tgt)
