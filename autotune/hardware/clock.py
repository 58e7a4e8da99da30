"""The cores' clock while they all work, measured rather than read.

In a virtual machine ``/proc/cpuinfo`` gives a nominal (often the base) clock and there is
no cpufreq; the cores run well above it under boost, so an ISA peak computed from it can be
beaten by a real SGEMM. This times a chain of dependent 64-bit ``imul`` + ``xor`` steps on
every core at once (a multiply then an xor of its result: 3 + 1 cycles a step on every
x86-64 core since Sandy Bridge and Zen; the shift beside them is off the chain, and LLVM
cannot shorten a multiply-xor chain as it can a multiply-add one) and divides.
"""

from __future__ import annotations

import json
import time
from functools import cache

import numpy as np
import tvm
from tvm.script import tirx as T

STEP_CYCLES = 4
_MIXER = 0x9E3779B97F4A7C15 - (1 << 64)  # an odd 64-bit constant, as a signed int64


def measured_clock_ghz(target: tvm.target.Target, threads: int, steps: int = 20_000_000,
                       repeat: int = 5) -> float | None:
    """The clock in GHz with ``threads`` cores busy (the best of ``repeat`` runs: the least
    disturbed); None where the target is not an x86-64 CPU."""
    mtriple = str(target.attrs.get("mtriple", "")) if target.kind.name == "llvm" else ""
    if not mtriple.startswith("x86_64"):
        return None
    from autotune.hardware.target import target_json  # pylint: disable=import-outside-toplevel
    from autotune.hardware.threads import threads_in_use  # pylint: disable=import-outside-toplevel

    # More chains than the thread pool has threads would run one after another.
    threads = max(1, min(threads, threads_in_use()))
    return _measure(json.dumps(target_json(target), sort_keys=True), threads, steps, repeat)


@cache
def _measure(target: str, threads: int, steps: int, repeat: int) -> float:
    """(Measured once a process for each target and thread count.)"""
    @T.prim_func
    def chain(out: T.Buffer((threads,), "int64"), seed: T.int64):
        T.func_attr({"global_symbol": "chain", "tirx.noalias": True})
        for t in T.parallel(threads):
            acc = T.alloc_buffer((1,), "int64", scope="local")
            acc[0] = seed + T.Cast("int64", t)
            for _ in range(steps):
                acc[0] = (acc[0] * T.int64(_MIXER)) ^ T.shift_right(acc[0], T.int64(29))
            out[t] = acc[0]

    run = tvm.compile(tvm.IRModule({"chain": chain}),
                      target=tvm.target.Target(json.loads(target))).jit()["chain"]
    out = tvm.runtime.tensor(np.zeros(threads, "int64"))
    run(out, 1)  # warm-up: the thread pool starts, the cores clock up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(out, 1)
        best = min(best, time.perf_counter() - start)
    return steps * STEP_CYCLES / best / 1e9
