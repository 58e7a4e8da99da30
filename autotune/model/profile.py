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
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import tvm
from tvm import relax

from autotune.measure.protocol import Prepared, Protocol, measure
from autotune.model import onnxruntime_ref
from autotune.model.onnx_import import OnnxModel
from autotune.workload import Workload

NO_OP = 0  # tvm.relax's VMInstrumentReturnKind.NO_OP: run the call as usual
KERNEL_TIME = "_kernel_time"  # suffix of a node's event in ONNX Runtime's profile
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


def onnxruntime_nodes(model: OnnxModel, threads: int, workdir: str | Path,
                      runs: int = 20) -> pd.DataFrame:
    """One row per node of ONNX Runtime's optimized graph (a conv with the activation and
    residual add it fused is one node): its name, operator type, input and output shapes,
    and kernel microseconds per model call under ONNX Runtime's profiler."""
    sess = onnxruntime_ref.session(model, threads, str(Path(workdir) / "ort-profile"))
    inputs = model.random_inputs(seed=0)
    for _ in range(runs):
        onnxruntime_ref.run(sess, model, inputs)
    events = json.loads(Path(sess.end_profiling()).read_text())
    nodes: dict[str, dict] = {}
    for event in events:
        name = str(event.get("name", ""))
        if event.get("cat") != "Node" or not name.endswith(KERNEL_TIME):
            continue
        args = event.get("args", {})
        node = nodes.setdefault(name[:-len(KERNEL_TIME)], {
            "op": args.get("op_name", "?"), "calls": 0, "us": 0.0,
            "inputs": [_shape_of(x) for x in args.get("input_type_shape", [])],
            "outputs": [_shape_of(x) for x in args.get("output_type_shape", [])]})
        node["calls"] += 1 / runs
        node["us"] += event["dur"] / runs
    return pd.DataFrame([{"node": name, **node} for name, node in nodes.items()],
                        columns=["node", "op", "calls", "us", "inputs", "outputs"])


def profile_onnxruntime(model: OnnxModel, threads: int, workdir: str | Path,
                        runs: int = 20) -> pd.DataFrame:
    """One row per ONNX operator type (``Conv``, ``Add``, ...): its nodes' kernel time per
    model call under ONNX Runtime's profiler, and share of the total."""
    nodes = onnxruntime_nodes(model, threads, workdir, runs)
    table = nodes.groupby("op", as_index=False)[["calls", "us"]].sum()
    rows = [{"part": op, "category": "layout" if "Reorder" in op else "node", "calls": calls,
             "us": us} for op, calls, us in table.itertuples(index=False)]
    return _with_shares(rows)


def node_workloads(nodes: pd.DataFrame, workloads: Iterable[Workload]) -> list[str | None]:
    """For each ONNX Runtime node, the symbol of the workload that computes what it does
    (a ``Conv`` or ``Gemm``/``MatMul`` node matched by its shapes, groups and whether it
    adds a residual), or None. A channel-blocked node's channel counts may be padded to its
    block (8 or 16). Workloads that such a match cannot tell apart (the same conv with
    another activation) are named together, joined by ``|``."""
    signatures = [(_workload_signature(wl), wl.symbol) for wl in workloads]
    named = []
    for op, inputs, outputs in zip(nodes["op"], nodes["inputs"], nodes["outputs"]):
        theirs = _node_signature(op, inputs, outputs)
        symbols = [symbol for ours, symbol in signatures
                   if theirs is not None and _same_signature(ours, theirs)]
        named.append("|".join(symbols) or None)
    return named


def by_workload(tvm_profile: pd.DataFrame, nodes: pd.DataFrame,
                workloads: Iterable[Workload]) -> pd.DataFrame:
    """Microseconds per model call of each workload in a TVM build's profile
    (``profile_tvm``) beside ONNX Runtime's nodes that compute it (``onnxruntime_nodes``;
    NaN where none was matched), and ``speedup`` (ONNX Runtime's time over the build's);
    then all other time of each, and the totals."""
    workloads = list(workloads)
    nodes = nodes.assign(workload=node_workloads(nodes, workloads))
    mapped = nodes.dropna(subset=["workload"])
    ort = mapped.groupby("workload")[["calls", "us"]].sum()
    groups = list(ort.index) + [wl.symbol for wl in workloads
                                if not any(wl.symbol in g.split("|") for g in ort.index)]
    group_of = {symbol: group for group in groups for symbol in group.split("|")}
    tuned = tvm_profile[tvm_profile["part"].isin(group_of)]
    ours = tuned.groupby(tuned["part"].map(group_of))["us"].sum()
    table = pd.DataFrame({"workload": groups,
                          "calls": ort["calls"].reindex(groups).to_numpy(),
                          "tvm_us": ours.reindex(groups).to_numpy(),
                          "onnxruntime_us": ort["us"].reindex(groups).to_numpy()})
    table = table.sort_values("onnxruntime_us", ascending=False, ignore_index=True)
    rest = {"workload": "(everything else)", "calls": float("nan"),
            "tvm_us": tvm_profile["us"].sum() - tuned["us"].sum(),
            "onnxruntime_us": nodes["us"].sum() - mapped["us"].sum()}
    total = {"workload": "(total)", "calls": float("nan"), "tvm_us": tvm_profile["us"].sum(),
             "onnxruntime_us": nodes["us"].sum()}
    table = pd.concat([table, pd.DataFrame([rest, total])], ignore_index=True)
    table["speedup"] = table["onnxruntime_us"] / table["tvm_us"]
    return table


def workloads_in_turns(executable, model: OnnxModel, dev, kernels: Iterable[str],
                       workloads: Iterable[Workload], threads: int, workdir: str | Path,
                       rounds: int = 5, runs: int = 20) -> pd.DataFrame:
    """``by_workload`` with the build and ONNX Runtime profiled in turns, ``rounds`` times
    ``runs`` calls each, each number the median over the rounds (a host that slows down
    for a while slows both).

    Each profiler costs its side time at every call (ONNX Runtime's made its MobileNetV2
    half as slow again, the VM's instrument a tenth), which would flatter the build. So
    each round also times both untraced, and scales each side's rows so that they sum to
    its untraced call: ``(total)`` is the untraced call, every row keeps its share of its
    side's profile, and ``(profiled total)`` gives the sums before scaling."""
    kernels, workloads = list(kernels), list(workloads)
    vm = relax.VirtualMachine(executable, dev)
    arrays = model.random_inputs(seed=0)
    tensors = [tvm.runtime.tensor(x, dev) for x in arrays]
    plain = onnxruntime_ref.session(model, threads)
    tables = []
    for _ in range(rounds):
        table = by_workload(profile_tvm(executable, model, dev, kernels, runs),
                            onnxruntime_nodes(model, threads, workdir, runs), workloads)
        untraced = {"tvm_us": _call_us(lambda: vm["main"](*tensors), runs),
                    "onnxruntime_us": _call_us(
                        lambda: onnxruntime_ref.run(plain, model, arrays), runs)}
        profiled = table[table["workload"] == "(total)"].iloc[0]
        raw = {**profiled.to_dict(), "workload": "(profiled total)"}
        for column, us in untraced.items():
            table[column] = table[column] * (us / profiled[column])
        tables.append(pd.concat([table, pd.DataFrame([raw])], ignore_index=True))
    table = pd.concat(tables).groupby("workload", sort=False)[
        ["calls", "tvm_us", "onnxruntime_us"]].median().reset_index()
    table["speedup"] = table["onnxruntime_us"] / table["tvm_us"]
    return table


def _call_us(call: Callable[[], object], runs: int) -> float:
    """Median microseconds of ``call`` under the measurement protocol, ``runs`` samples."""
    return measure(Prepared([call], output=lambda _: None), Protocol(repeat=runs)).median * 1e6


def with_tuning_latency(table: pd.DataFrame, tuning_s: dict[str, float]) -> pd.DataFrame:
    """``by_workload``'s table with each workload's latency as its search measured it
    (``tuning_us``, per call: the package manifest's ``tuning_latency_s`` by symbol) and
    ``in_graph_vs_tuning``, the build's microseconds per call in the network over it (a
    kernel whose operands the rest of the network pushed out of the caches runs slower
    there than alone)."""
    tuning_us = [np.mean([tuning_s.get(s, np.nan) for s in str(w).split("|")]) * 1e6
                 for w in table["workload"]]
    return table.assign(tuning_us=tuning_us,
                        in_graph_vs_tuning=table["tvm_us"] / table["calls"] / tuning_us)


def _shape_of(typed: dict) -> tuple[int, ...]:
    """``{"float": [1, 3, 224, 224]}`` (a profiler event's shape) as a tuple."""
    return tuple(int(d) for d in next(iter(typed.values()), []))


def _workload_signature(wl: Workload) -> tuple:
    p = wl.params
    if wl.kernel == "gemm":
        return ("gemm", p["m"], p["k"], p["n"])
    if wl.kernel != "conv2d":
        return (wl.kernel,)
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    oh = (p["h"] + 2 * ph - dh * (p["kh"] - 1) - 1) // sh + 1
    ow = (p["w"] + 2 * pw - dw * (p["kw"] - 1) - 1) // sw + 1
    residual = "add" in str(p.get("epilogue") or "").split("+")
    return ("conv2d", p["n"], p["c"], p["h"], p["w"], p["k"], p["c"] // p["groups"],
            p["kh"], p["kw"], oh, ow, residual)


def _node_signature(op: str, inputs: list[tuple], outputs: list[tuple]) -> tuple | None:
    if op in ("Conv", "FusedConv") and len(inputs) >= 2 and outputs:
        x, w, out = inputs[0], inputs[1], outputs[0]
        if len(x) != 4 or len(w) != 4 or len(out) != 4:
            return None
        return ("conv2d", x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], out[2], out[3],
                len(inputs) == 4)
    if op in ("Gemm", "MatMul", "FusedMatMul") and inputs and outputs and len(inputs[0]) == 2:
        (m, k), n = inputs[0], outputs[0][-1]
        return ("gemm", m, k, n)
    return None


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


CHANNEL_FIELDS = (2, 5, 6)  # c, k and c/groups in a conv2d signature
CHANNEL_BLOCKS = (8, 16)


def _same_signature(ours: tuple, theirs: tuple) -> bool:
    if len(ours) != len(theirs) or ours[0] != theirs[0]:
        return False
    padded = CHANNEL_FIELDS if ours[0] == "conv2d" else ()
    return all(a == b or i in padded and any(-(-a // blk) * blk == b for blk in CHANNEL_BLOCKS)
               for i, (a, b) in enumerate(zip(ours, theirs)))
