"""TVM's own whole-model tuning, the anchor a tuned build is measured against.

The steps of ``tvm.relax.pipeline.static_shape_tuning_pipeline``: the graph is fused as TVM
does, every fused function becomes a MetaSchedule task, ``tune_relax`` tunes them under one
trial budget (its gradient task scheduler weighs each task by its count in the graph) and
the database is applied. Only the processes differ: candidates are built and measured by
autotune's warm workers (``autotune.search.workers``), because TVM's default local builder
starts a fresh pool for every batch and each of its workers imports TVM's tensor
intrinsics (about 29 s here), so a MobileNet's first batch of 62 had not come back after
7 minutes. The search, the tasks and the fusion are TVM's.
"""

from __future__ import annotations

from pathlib import Path

import tvm
from tvm import relax
from tvm.s_tir import meta_schedule as ms

from autotune.hardware.target import resolve_target
from autotune.model.onnx_import import OnnxModel, load_onnx
from autotune.search.workers import Workers


def relax_tuned_build(
    model: OnnxModel | str | Path,
    target: str | dict | tvm.target.Target,
    trials: int,
    work_dir: str | Path,
    max_trials_per_task: int | None = None,
    workers: Workers | None = None,
) -> relax.VMExecutable:
    """``model`` tuned by TVM's static-shape Relax tuning for ``trials`` in total, compiled.

    ``work_dir`` holds MetaSchedule's database; a second call with the same one tunes
    further (``trials`` more) and applies everything found so far. ``trials=0`` applies
    the database as it is. ``workers``: the build and measure processes (None: started
    and stopped here).
    """
    model = model if isinstance(model, OnnxModel) else load_onnx(model)
    tgt = resolve_target(target)
    with tgt:
        mod = tvm.transform.Sequential([
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            relax.pipeline.zero_pipeline(),
        ])(model.relax_module())
    if trials > 0:
        own = workers is None
        workers = Workers() if own else workers
        try:
            ms.relax_integration.tune_relax(
                mod, {}, tgt, str(work_dir), trials, max_trials_per_task=max_trials_per_task,
                builder=workers.builder, runner=workers.runner_for(tgt))
        finally:
            if own:
                workers.close()
    with tgt:
        mod = relax.transform.MetaScheduleApplyDatabase(str(work_dir))(mod)
    return tvm.compile(mod, target=tgt)
