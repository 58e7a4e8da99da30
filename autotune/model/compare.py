"""End-to-end latency of a model: tuned build vs TVM's untuned build vs ONNX Runtime.

All are timed by ``autotune.measure.protocol`` (warm-up, repeats, rotating input sets) in one
run, in turns (``measure_in_turns``), with the same thread count, each through the call a
user makes (NumPy arrays in, NumPy arrays out: a ``ModelPackage`` call for TVM's builds,
``InferenceSession.run`` for ONNX Runtime's), and each one's outputs are checked against
ONNX Runtime.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import tvm
from tvm import relax

from autotune.errors import ModelError
from autotune.hardware.host import host_description
from autotune.hardware.target import device_for, resolve_target, target_key, target_threads
from autotune.hardware.threads import set_threads
from autotune.logs.store import DEFAULT_LOG_DIR
from autotune.measure.protocol import Prepared, Protocol, measure_in_turns
from autotune.model import onnxruntime_ref
from autotune.model.build import compile_model
from autotune.model.onnx_import import OnnxModel, load_onnx
from autotune.model.package import ModelPackage, load_model_package


def compare_model(
    model: OnnxModel | str | Path,
    target: str | dict | tvm.target.Target = "cpu",
    log_dir: str | Path = DEFAULT_LOG_DIR,
    *,
    fallback: str = "error",
    protocol: Protocol | None = None,
    others: Mapping[str, relax.VMExecutable] | None = None,
    package: str | Path | None = None,
) -> pd.DataFrame:
    """One row per implementation: latency stats, speedups, error against ONNX Runtime.

    The tuned build is the package at ``package`` (written by ``build_model`` for this
    model; then ``log_dir`` and ``fallback`` are not used), else compiled from the logs.
    ``others`` are more builds of the same model to time beside them, by name (for
    example TVM's own Relax tuning, ``autotune.model.relax_tuning``)."""
    model = model if isinstance(model, OnnxModel) else load_onnx(model)
    reason = onnxruntime_ref.unavailable()
    if reason:
        raise ModelError(f"cannot compare with ONNX Runtime: {reason}")
    tgt = resolve_target(target)
    if tgt.kind.name != "llvm":
        raise ModelError("model comparison runs on the CPU only (ONNX Runtime's CPU provider)")
    protocol = protocol or Protocol()
    threads = set_threads(target_threads(tgt))
    per_set = sum(math.prod(i.shape) * 4 for i in model.inputs) or 1
    sets = [model.random_inputs(seed) for seed in
            range(int(min(protocol.max_sets, max(1, math.ceil(protocol.flush_bytes / per_set)))))]
    session = onnxruntime_ref.session(model, threads)
    want = onnxruntime_ref.run(session, model, sets[0])

    dev = device_for(tgt)
    inputs = [i.to_json() for i in model.inputs]
    if package is not None:
        tuned = package_built_from(package, model)
        entries = tuned.manifest["kernels"]
    else:
        executable, entries, _ = compile_model(model, tgt, log_dir, fallback)
        tuned = ModelPackage(executable, inputs, dev)
    untuned, _, _ = compile_model(model, tgt, None)
    builds = {"tvm-tuned": tuned, "tvm-untuned": ModelPackage(untuned, inputs, dev),
              **{name: ModelPackage(ex, inputs, dev) for name, ex in (others or {}).items()}}
    feeds = [{info.name: x for info, x in zip(model.inputs, inputs)} for inputs in sets]
    arms = [*((name, _prepared(lambda inputs, run=runner: run(*inputs), sets))
              for name, runner in builds.items()),
            ("onnxruntime", _prepared(lambda feed: session.run(None, feed), feeds))]
    outputs = []
    for _, prepared in arms:
        prepared.calls[0]()
        outputs.append(prepared.output(0))
    rows = []
    for (name, _), got, timing in zip(arms, outputs,
                                      measure_in_turns([p for _, p in arms], protocol)):
        rows.append({
            "model": model.name, "implementation": name,
            "median_us": timing.median * 1e6, "min_us": timing.min * 1e6,
            "max_us": timing.max * 1e6, "spread": timing.spread,
            **onnxruntime_ref.error_summary(got, want),
            "matches_onnxruntime": onnxruntime_ref.mismatch(got, want) is None,
        })
    table = pd.DataFrame(rows)
    by_name = table.set_index("implementation")["median_us"]
    table["speedup_vs_onnxruntime"] = by_name["onnxruntime"] / table["median_us"]
    table["speedup_vs_untuned"] = by_name["tvm-untuned"] / table["median_us"]
    tuned_count = sum(e["schedule"] == "tuned" for e in entries)
    table["tuned_kernels"] = f"{tuned_count}/{len(entries)}"
    table["threads"] = threads
    table["target"] = target_key(tgt)
    table["host"] = host_description()
    table["tvm_version"] = tvm.__version__
    table["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return table


def package_built_from(path: str | Path, model: OnnxModel) -> ModelPackage:
    """The model package at ``path``, which must have been built from ``model``."""
    pkg = load_model_package(path)
    if pkg.manifest["model"].get("sha256") != model.sha256:
        raise ModelError(f"{path} was built from another model than {model.path} "
                         f"(its manifest names {pkg.manifest['model'].get('file')!r})")
    return pkg


def _prepared(run, args: list) -> Prepared:
    """``run(args[i])`` as the protocol's call ``i``, its outputs kept for the check."""
    results: dict[int, list] = {}

    def call(i: int):
        return lambda: results.__setitem__(i, run(args[i]))

    return Prepared([call(i) for i in range(len(args))], lambda i: results[i])
