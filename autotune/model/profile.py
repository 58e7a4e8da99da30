"""Where a model's time goes: per-call times of a TVM build and of ONNX Runtime's nodes.

A TVM build is run through the Relax VM with an instrument that times every call it makes
(tuned kernels, the fused glue around them, layout transforms, the VM's own builtins); ONNX
Runtime's is its own profiler's per-node kernel time. Both are summed over ``runs`` calls
and given per call, with each part's share of the total.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import tvm
from tvm import relax

from autotune.model import onnxruntime_ref
from autotune.model.onnx_import import OnnxModel

NO_OP = 0  # tvm.relax's VMInstrumentReturnKind.NO_OP: run the call as usual
LAYOUT_WORDS = ("transpose", "layout_transform", "reshape", "pack", "unpack")


def profile_tvm(executable, model: OnnxModel, dev, kernels: Iterable[str] = (),
                runs: int = 20) -> pd.DataFrame:
    """One row per function the VM calls: calls and microseconds per model call, share of
    the total, and a category: ``kernel`` (a symbol in ``kernels``, the tuned ones),
    ``layout`` (transposes, layout transforms), ``vm`` (the VM's builtins), else ``glue``."""
    vm = relax.VirtualMachine(executable, dev)
    inputs = [tvm.runtime.tensor(x, dev) for x in model.random_inputs(seed=0)]
    vm["main"](*inputs)  # warm-up, before the instrument is set
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    started: list[float] = []

    def instrument(_func, symbol, before_run, _ret, *_args):
        if before_run:
            started.append(time.perf_counter())
        else:
            seconds[str(symbol)] += time.perf_counter() - started.pop()
            calls[str(symbol)] += 1
        return NO_OP

    vm.set_instrument(instrument)
    for _ in range(runs):
        vm["main"](*inputs)
    kernels = set(kernels)
    rows = [{"part": name, "category": _category(name, kernels), "calls": calls[name] / runs,
             "us": seconds[name] / runs * 1e6} for name in seconds]
    return _with_shares(rows)


def profile_onnxruntime(model: OnnxModel, threads: int, workdir: str | Path,
                        runs: int = 20) -> pd.DataFrame:
    """One row per ONNX operator type (``Conv``, ``Add``, ...): its nodes' kernel time per
    model call under ONNX Runtime's profiler, and share of the total."""
    sess = onnxruntime_ref.session(model, threads, str(Path(workdir) / "ort-profile"))
    inputs = model.random_inputs(seed=0)
    for _ in range(runs):
        onnxruntime_ref.run(sess, model, inputs)
    events = json.loads(Path(sess.end_profiling()).read_text())
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for event in events:
        if event.get("cat") == "Node" and str(event.get("name", "")).endswith("_kernel_time"):
            op = event.get("args", {}).get("op_name", "?")
            seconds[op] += event["dur"] * 1e-6
            calls[op] += 1
    rows = [{"part": op, "category": "layout" if "Reorder" in op else "node",
             "calls": calls[op] / runs, "us": seconds[op] / runs * 1e6} for op in seconds]
    return _with_shares(rows)


def by_category(profile: pd.DataFrame) -> pd.DataFrame:
    """The profile summed by category."""
    table = profile.groupby("category", as_index=False)[["calls", "us", "share"]].sum()
    return table.sort_values("us", ascending=False, ignore_index=True)


def _category(name: str, kernels: set[str]) -> str:
    if name in kernels:
        return "kernel"
    if name.startswith("vm.builtin."):
        return "vm"
    if any(word in name for word in LAYOUT_WORDS):
        return "layout"
    return "glue"


def _with_shares(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["part", "category", "calls", "us"])
    total = float(np.sum(table["us"])) or 1.0
    table["share"] = table["us"] / total
    return table.sort_values("us", ascending=False, ignore_index=True)
