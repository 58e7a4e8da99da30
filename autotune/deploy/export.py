"""Build one deployable shared library from tuning logs alone: no search runs here."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import tvm

from autotune.atomic import replacing, write_json
from autotune.deploy.linker import link_failure, linker_for
from autotune.deploy.manifest import LIBRARY, MANIFEST, MANIFEST_FORMAT, required_cpu_features
from autotune.deploy.package import native_stderr_silenced
from autotune.errors import AutotuneError, LogError
from autotune.hardware.target import resolve_target, target_json, target_key
from autotune.logs.store import DEFAULT_LOG_DIR, LogStore, trace_json
from autotune.measure.alignment import compile_kernels, input_alignment
from autotune.measure.compile import default_module
from autotune.measure.prepack import split
from autotune.measure.validate import Choice, best_variant
from autotune.workload import Workload

FALLBACKS = ("error", "default")
Variant = tuple[Workload, Choice]  # the layout variant that serves a workload, and its record


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
    TVM's untuned kernel (``default_module``) and marks it so in the manifest.
    """
    if not workloads:
        raise AutotuneError("nothing to export: give at least one workload")
    tgt = resolve_target(target)
    choices = choose_records(workloads, tgt, log_dir, fallback)
    functions, entries = {}, []
    for wl, chosen in choices.items():
        mod = chosen[1].module if chosen else default_module(wl, tgt)
        functions[wl.symbol] = mod["main"].with_attr("global_symbol", wl.symbol)
        entry = kernel_entry(wl, chosen)
        plan = split(chosen[0] if chosen else wl, mod) if tgt.kind.name == "llvm" else None
        if plan is not None:  # the weights can be packed once (Kernel.prepare)
            functions.update(plan.functions(wl.symbol))
            entry["prepack"] = plan.entry(wl.symbol)
        entries.append(entry)
    return write_package(
        out, compile_kernels(tvm.IRModule(functions), tgt), tgt,
        {"input_alignment": input_alignment(tgt), "kernels": entries},
    )


def choose_records(
    workloads: list[Workload], target: tvm.target.Target, log_dir: str | Path, fallback: str
) -> dict[Workload, Variant | None]:
    """Each workload's validated kernel, from its own log or a layout variant's (see
    ``best_variant``); None: use the default schedule.

    With ``fallback="error"``, workloads without one are an error that names them all.
    """
    if fallback not in FALLBACKS:
        raise AutotuneError(f"fallback must be one of {', '.join(FALLBACKS)}, got {fallback!r}")
    store = LogStore(log_dir)
    choices: dict[Workload, Variant | None] = {}
    for wl in dict.fromkeys(workloads):  # drop repeats, keep order
        choices[wl] = best_variant(store, wl, target)
    missing = [wl.key for wl, choice in choices.items() if choice is None]
    if missing and fallback == "error":
        raise LogError(
            f"no validated tuning record on target {target_key(target)} under {log_dir} for: "
            f"{', '.join(missing)}; tune them first or export with fallback 'default'"
        )
    return choices


def write_package(
    out: str | Path, executable, target: tvm.target.Target, fields: dict, library: str = LIBRARY
) -> Path:
    """Export ``executable`` as ``out/<library>`` and write the manifest with ``fields``."""
    out = Path(out)
    fcompile = linker_for(target)
    out.mkdir(parents=True, exist_ok=True)
    name, library = library, out / library
    # Write beside, then rename: a process that has the old library loaded keeps its
    # mapping intact (overwriting a mapped .so in place crashes it), and a crash mid-export
    # leaves the old package whole.
    try:
        with replacing(library) as partial, native_stderr_silenced():
            # Relax executables log an empty line a function
            executable.export_library(str(partial), fcompile=fcompile)
    except RuntimeError as err:  # the linker's failure, as TVM reports it
        raise link_failure(err, library) from None
    manifest = {
        "format": MANIFEST_FORMAT,
        "library": name,
        "sha256": hashlib.sha256(library.read_bytes()).hexdigest(),
        "target": target_json(target),
        "target_key": target_key(target),
        "cpu_features": required_cpu_features(target),
        "tvm_version": tvm.__version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **fields,
    }
    write_json(out / MANIFEST, manifest)
    return out


def kernel_entry(wl: Workload, chosen: Variant | None) -> dict:
    """A manifest's description of one kernel and the record it was built from."""
    variant, choice = chosen if chosen else (None, None)
    return {
        "key": wl.key,
        "symbol": wl.symbol,
        "workload": wl.to_json(),
        "inputs": [s.to_json() for s in wl.input_specs],
        "output": wl.output_spec.to_json(),
        "weights": list(wl.weight_inputs),  # inputs Kernel.prepare can fix
        "flops": wl.flops,
        "schedule": "tuned" if choice else "default",
        "variant": variant.key if variant else None,
        "record": choice.rid if choice else None,
        # the schedule, as MetaSchedule's trace JSON: `autotune show PACKAGE KEY` reads it
        "trace": trace_json(choice.record.trace) if choice else None,
        "tuning_latency_s": choice.tuning_seconds if choice else None,
        "validated": choice is not None,
    }
