"""Build a whole model from tuning logs alone: tuned kernels spliced into TVM's Relax graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tvm
from tvm import relax

from autotune.deploy.export import choose_records, kernel_entry, write_package
from autotune.errors import ModelError
from autotune.hardware.target import device_for, resolve_target, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.store import DEFAULT_LOG_DIR
from autotune.measure.prepack import Prepack, split
from autotune.model import onnxruntime_ref
from autotune.model.glue import schedule_glue
from autotune.model.kernels import map_workloads, splice
from autotune.model.onnx_import import OnnxModel, load_onnx
from autotune.workload import Workload

LIBRARY = "model.so"


def compile_model(
    model: OnnxModel, target: tvm.target.Target, log_dir: str | Path | None, fallback: str = "error"
) -> tuple[relax.VMExecutable, list[dict], list[str]]:
    """Compile ``model`` with the logs' best validated kernels (``log_dir=None``: TVM's own
    build, untouched). The ops around the kernels get default parallel schedules (glue.py).

    Returns the executable, the manifest entry of each workload, and the calls left to TVM.
    A kernel that packs its weights into another layout (a channel-blocked variant) packs
    them in a call of its own, which the build evaluates once where the weights are
    constants (entry ``weights_packed``), as ONNX Runtime and oneDNN prepack theirs.
    """
    mod = model.relax_module()
    if log_dir is None:
        return tvm.compile(mod, target=target), [], []
    mapping = map_workloads(mod)
    choices = choose_records(mapping.workloads, target, log_dir, fallback)
    kernels = {wl: _kernel(*c) for wl, c in choices.items() if c is not None}
    executable = tvm.compile(schedule_glue(splice(mod, kernels), target), target=target)
    entries = [{**kernel_entry(wl, c), "weights_packed": isinstance(kernels.get(wl), Prepack)}
               for wl, c in choices.items()]
    return executable, entries, mapping.skipped


def _kernel(variant: Workload, choice) -> tvm.tirx.PrimFunc | Prepack:
    """The chosen kernel; split in a packing step and the rest where it packs its weights
    (a constant weight is then packed once, when the build folds constants)."""
    return split(variant, choice.module) or choice.module["main"]


def run_executable(executable, model: OnnxModel, inputs: list[np.ndarray], dev) -> list[np.ndarray]:
    """Run a compiled model once on NumPy inputs; its outputs as NumPy arrays."""
    vm = relax.VirtualMachine(executable, dev)
    return outputs_of(vm["main"](*[tvm.runtime.tensor(x, dev) for x in inputs]))


def outputs_of(result) -> list[np.ndarray]:
    if isinstance(result, tvm.runtime.Tensor):
        return [result.numpy()]
    return [r.numpy() for r in result]


def build_model(
    model: OnnxModel | str | Path,
    target: str | dict | tvm.target.Target = "cpu",
    log_dir: str | Path = DEFAULT_LOG_DIR,
    out: str | Path = "build/model",
    *,
    fallback: str = "error",
) -> Path:
    """Write ``out/model.so`` and ``out/manifest.json`` from the logs; no search runs.

    Every conv2d and matmul uses its log's fastest validated record; one with no log is an
    error naming it, unless ``fallback="default"`` (TVM's own kernel, marked in the manifest).
    Before anything is written the build is run on random inputs and checked against ONNX
    Runtime: a model that disagrees is an error, never a package.
    """
    model = model if isinstance(model, OnnxModel) else load_onnx(model)
    tgt = resolve_target(target)
    executable, entries, skipped = compile_model(model, tgt, log_dir, fallback)
    fields = {
        "kind": "model",
        "model": {"file": model.path.name, "sha256": model.sha256,
                  "inputs": [i.to_json() for i in model.inputs],
                  "outputs": [o.to_json() for o in model.outputs]},
        "kernels": entries,
        "left_to_tvm": skipped,
        "onnxruntime_check": _check(executable, model, tgt),
    }
    return write_package(out, executable, tgt, fields, library=LIBRARY)


def _check(executable, model: OnnxModel, target: tvm.target.Target) -> dict:
    reason = onnxruntime_ref.unavailable()
    if reason is not None or target.kind.name != "llvm" and not device_for(target).exist:
        return {"checked": False, "reason": reason or f"no {target.kind.name} device here"}
    set_threads(target_threads(target))
    inputs = model.random_inputs(seed=0)
    got = run_executable(executable, model, inputs, device_for(target))
    want = onnxruntime_ref.run(onnxruntime_ref.session(model, target_threads(target)), model, inputs)
    problem = onnxruntime_ref.mismatch(got, want)
    if problem:
        raise ModelError(f"the build of {model.path} is wrong, nothing written: {problem}")
    return {"checked": True, "seed": 0, **onnxruntime_ref.error_summary(got, want)}
