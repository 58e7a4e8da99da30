"""Build one deployable shared library from tuning logs alone: no search runs here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import tvm

from .build import scheduled_module
from .errors import AutotuneError, LogError
from .logs import LogStore
from .package import LIBRARY, MANIFEST, required_cpu_features
from .select import best_validated
from .target import resolve_target, target_json, target_key
from .tuning import DEFAULT_LOG_DIR
from .workload import Workload

FALLBACKS = ("error", "default")


def export(
    workloads: list[Workload],
    target: str | dict | tvm.target.Target = "cpu",
    log_dir: str | Path = DEFAULT_LOG_DIR,
    out: str | Path = "build/pkg",
    *,
    fallback: str = "error",
) -> Path:
    """Write ``out/kernels.so`` (one function per workload) and ``out/manifest.json``.

    Each workload uses the fastest validated record of its log for ``target``. A workload
    with no usable record is an error naming it, unless ``fallback="default"``, which builds
    TVM's unscheduled kernel and marks it so in the manifest.
    """
    if fallback not in FALLBACKS:
        raise AutotuneError(f"fallback must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    if not workloads:
        raise AutotuneError("nothing to export: give at least one workload")
    tgt = resolve_target(target)
    store = LogStore(log_dir)
    functions: dict[str, tvm.tirx.PrimFunc] = {}
    entries, missing = [], []
    for wl in dict.fromkeys(workloads):  # drop repeats, keep order
        try:
            choice = best_validated(store.open(wl, tgt))
        except LogError:
            choice = None
        if choice is None and fallback == "error":
            missing.append(wl.key)
            continue
        mod = choice.module if choice else scheduled_module(wl, None)
        functions[wl.symbol] = mod["main"].with_attr("global_symbol", wl.symbol)
        entries.append(_kernel_entry(wl, choice))
    if missing:
        raise LogError(
            f"no validated tuning record on target {target_key(tgt)} under {log_dir} for: "
            f"{', '.join(missing)}; tune them first or export with fallback 'default'"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    library = out / LIBRARY
    # Write beside, then rename: a process that has the old library loaded keeps its
    # mapping intact (overwriting a mapped .so in place crashes it), and a crash mid-export
    # leaves the old package whole.
    partial = out / f".{LIBRARY}.partial"
    tvm.compile(tvm.IRModule(functions), target=tgt).export_library(str(partial))
    os.replace(partial, library)
    manifest = {
        "format": 1,
        "library": LIBRARY,
        "sha256": hashlib.sha256(library.read_bytes()).hexdigest(),
        "target": target_json(tgt),
        "target_key": target_key(tgt),
        "cpu_features": required_cpu_features(tgt),
        "tvm_version": tvm.__version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "kernels": entries,
    }
    partial = out / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(partial, out / MANIFEST)
    return out


def _kernel_entry(wl: Workload, choice) -> dict:
    return {
        "key": wl.key,
        "symbol": wl.symbol,
        "workload": wl.to_json(),
        "inputs": [s.to_json() for s in wl.input_specs],
        "output": wl.output_spec.to_json(),
        "flops": wl.flops,
        "schedule": "tuned" if choice else "default",
        "record": choice.rid if choice else None,
        "tuning_latency_s": choice.tuning_seconds if choice else None,
        "validated": choice is not None,
    }
