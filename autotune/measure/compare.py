"""Time one workload's tuned kernel, TVM's untuned kernel and baselines side by side.

Every implementation runs on the same input sets, is checked against the NumPy reference
first (a wrong one is reported, never timed), then all are timed with the one protocol, in
turns (``measure_in_turns``: a slow spell of the host falls on every one alike). TVM's
kernels are timed as a package's user calls them (``median_us``: ``Kernel.__call__`` on
NumPy arrays, writing into a preallocated ``out=`` as the libraries write into theirs) and
as the bare kernel on tensors made once (``kernel_us``); ``call_overhead_us`` is the
difference of the two, timed in the same turns. A tuned kernel that packs its weights is
also timed with them packed once (``prepacked_us``: ``Kernel.prepare``, as ONNX Runtime
packs its constant weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import tvm

from autotune.baselines import Baseline
from autotune.hardware.target import device_for
from autotune.logs.store import LogStore
from autotune.measure.compile import (
    check_numerics,
    compile_module,
    default_module,
    prepare_call,
    prepare_module,
    prepare_packed_call,
)
from autotune.measure.device import KernelDevice
from autotune.measure.protocol import (
    Prepared,
    Protocol,
    Timing,
    input_sets,
    measure_in_turns,
)
from autotune.measure.validate import best_variant
from autotune.workload import Workload

CALL_PATH = "package call: NumPy arrays in, NumPy out="
GPU_CALL_PATH = "package call: device tensors in, device out="
REMOTE_KERNEL = "remote device: the bare kernel, TVM's time_evaluator"


def compare_workload(
    wl: Workload, store: LogStore, tgt: tvm.target.Target, competing: list[Baseline],
    protocol: Protocol,
) -> list[dict]:
    """Rows for the tuned kernel (best validated record of the workload or of one of its
    layout variants, named in the ``variant`` column), TVM's untuned one and baselines.
    Each is checked first; then all that passed are timed in turns (``measure_in_turns``)."""
    dev = device_for(tgt)
    sets = input_sets(wl, protocol.sets_for(wl))
    rows: list[dict] = []
    timed: list[tuple[Prepared, Callable[[Timing], None]]] = []  # what to time, where it goes
    chosen = best_variant(store, wl, tgt)
    tvm_impls = [("tvm-tuned", chosen[1].module if chosen else None),
                 ("tvm-untuned", default_module(wl, tgt))]
    for name, mod in tvm_impls:
        if mod is None:
            rows.append(_row(wl, name, None, False, "no validated record"))
            continue
        rt_mod = compile_module(mod, tgt)
        error = check_numerics(rt_mod, wl, tgt)
        row, call = _checked_row(wl, name, prepare_call(rt_mod, wl, sets, tgt), sets, error,
                                 validated=name == "tvm-tuned", timed=timed)
        row["timed"] = CALL_PATH if tgt.kind.name == "llvm" else GPU_CALL_PATH
        if call is not None:
            timed.append((prepare_module(rt_mod, wl, sets, dev),
                          lambda t, row=row: row.update(kernel_us=t.median * 1e6)))
        if name == "tvm-tuned":
            row["variant"] = chosen[0].key
            packed = prepare_packed_call(mod, chosen[0], sets, tgt) if call else None
            if packed is not None:  # the same kernel with its weights packed once
                if _check(wl, packed, sets) is None:
                    timed.append((packed, lambda t, row=row: row.update(
                        prepacked_us=t.median * 1e6)))
        rows.append(row)
    for baseline in competing:
        if not baseline.supports(wl):
            continue
        try:
            prepared = baseline.prepare(wl, sets)
        except Exception as err:  # a library that cannot run this shape: say so, go on
            rows.append(_row(wl, baseline.name, None, False, f"{type(err).__name__}: {err}"))
            continue
        row, _ = _checked_row(wl, baseline.name, prepared, sets, None, timed=timed)
        row["weights"] = "constant" if baseline.constant_weights(wl) else "per call"
        rows.append(row)
    for (_, record), timing in zip(timed, measure_in_turns([p for p, _ in timed], protocol)):
        record(timing)
    for row in rows:
        row["call_overhead_us"] = row["median_us"] - row["kernel_us"]
    return rows


def compare_on_device(wl: Workload, store: LogStore, tgt: tvm.target.Target,
                      device: KernelDevice, protocol: Protocol) -> list[dict]:
    """Rows for the tuned and the untuned kernel, checked and timed on ``device`` (a remote
    one: no library runs there, and the kernel is timed bare, ``kernel_us``)."""
    chosen = best_variant(store, wl, tgt, check=device.check)
    rows = []
    for name, mod in [("tvm-tuned", chosen[1].module if chosen else None),
                      ("tvm-untuned", default_module(wl, tgt))]:
        error = "no validated record" if mod is None else device.check(mod, wl, tgt)
        timing = None if error else device.time(mod, wl, tgt, protocol)
        row = _row(wl, name, timing, timing is not None, error, validated=name == "tvm-tuned")
        row["timed"] = REMOTE_KERNEL if timing else ""
        row["kernel_us"] = row["median_us"]
        row["variant"] = chosen[0].key if name == "tvm-tuned" and chosen else ""
        rows.append(row)
    return rows


def _checked_row(wl, name, prepared: Prepared, sets, error, validated=False,
                 timed: list | None = None) -> tuple[dict, Prepared | None]:
    """The row of ``prepared``, after ``_check`` (unless ``error`` already says what is
    wrong), and ``prepared`` if it is right (a wrong one is reported, never timed). With
    ``timed``, a right one goes on that list, to fill the row's timing when it is timed."""
    error = error or _check(wl, prepared, sets)
    if error:
        return _row(wl, name, None, False, error), None
    row = _row(wl, name, None, True, None, validated)
    if timed is not None:
        timed.append((prepared, lambda t: row.update(_timing_fields(t))))
    return row, prepared


def _check(wl: Workload, prepared: Prepared, sets) -> str | None:
    """What is wrong with the outputs of ``prepared``'s first and last input sets, if anything."""
    for i in sorted({0, len(sets) - 1}):
        prepared.calls[i]()
        error = wl.check(prepared.output(i), sets[i])
        if error:
            return error
    return None


def _timing_fields(timing: Timing | None) -> dict:
    """A row's columns that ``timing`` fills (NaN and 0 without one)."""
    nan = math.nan
    return {
        "median_us": timing.median * 1e6 if timing else nan,
        "min_us": timing.min * 1e6 if timing else nan,
        "max_us": timing.max * 1e6 if timing else nan,
        "spread": timing.spread if timing else nan,
        "samples": timing.samples if timing else 0,
        "calls_per_sample": timing.number if timing else 0,
        "input_sets": timing.sets if timing else 0,
    }


def _row(wl: Workload, name: str, timing: Timing | None, correct: bool, error: str | None,
         validated: bool = False) -> dict:
    nan = math.nan
    return {
        "workload": wl.key,
        "kernel": wl.kernel,
        "dtype": wl.params["dtype"],
        "implementation": name,
        **_timing_fields(timing),
        "flops": wl.flops,
        "bytes": wl.bytes_moved,
        "correct": correct,
        "validated": validated and correct,
        "error": error or "",
        "variant": "",
        "timed": "",
        "weights": "per call",
        "kernel_us": nan,
        "call_overhead_us": nan,
        "prepacked_us": nan,  # tuned kernels that pack their weights: packed once instead
    }


def add_rates(frame: pd.DataFrame, baselines: list[str]) -> pd.DataFrame:
    """Add GFLOP/s, GB/s, FLOP/byte and speedups over each baseline (and the best one)."""
    seconds = frame["median_us"] * 1e-6
    frame["gflops"] = frame["flops"] / seconds / 1e9
    frame["gbps"] = frame["bytes"] / seconds / 1e9
    frame["intensity"] = frame["flops"] / frame["bytes"]
    by_impl = frame.pivot_table(index="workload", columns="implementation", values="median_us")
    for name in baselines:
        base = frame["workload"].map(by_impl[name]) if name in by_impl else np.nan
        frame[f"speedup_vs_{name}"] = base / frame["median_us"]
    present = [n for n in baselines if n in by_impl]
    best = by_impl[present].min(axis=1) if present else pd.Series(dtype=float)
    frame["speedup_vs_best_baseline"] = frame["workload"].map(best) / frame["median_us"]
    return frame
