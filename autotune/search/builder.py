"""A MetaSchedule builder whose worker processes stay warm across batches.

TVM's ``LocalBuilder`` starts a fresh process pool for every batch, and its default build
function imports ``tvm.s_tir.tensor_intrin`` (seconds of TVMScript parsing) in every new
worker. Building one candidate takes tens of milliseconds once a worker is warm, so the
pool start-up dominates. This builder keeps its pool across batches and recycles it every
``recycle_every`` batches (upstream restarts it because of a slow memory leak in workers).
Each candidate still builds in a separate process: a compiler crash costs one worker.

Its time-out (30 s, as ``LocalBuilder``'s) is spent on compiling alone: no worker start-up
or imports. Measured on a 2-core znver3 host, C=37 conv: ordinary candidates compile in
0.05-4 s; 17 of 1000 took LLVM over 120 s, and the two of those compiled to the end (98
and 200 s) ran 48x and 17x slower than that search's best kernel.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from tvm.ir import IRModule
from tvm.ir.utils import derived_object
from tvm.runtime import Module
from tvm.s_tir.meta_schedule.builder import BuilderInput, BuilderResult, PyBuilder
from tvm.s_tir.meta_schedule.builder.local_builder import (
    _serialize_params,
    _worker_func,
)
from tvm.s_tir.meta_schedule.utils import cpu_count
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind
from tvm.target import Target


def die_with_parent(parent: int) -> None:
    """Run in each worker the search starts (builders and runners): the kernel kills the
    worker when the process that started it ends, however it ends (Ctrl-C, kill -9, a
    crash), so no worker outlives the tuner and takes the cores of the next run. Linux
    only (``prctl(PR_SET_PDEATHSIG)``); elsewhere the pools' own shutdown is all there is."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent ended before the call: nothing would signal us
        os._exit(1)


def build_candidate(mod: IRModule, target: Target, _params) -> Module:
    """Build one scheduled candidate exactly as a user would call it.

    Unlike TVM's default build, weight-layout rewrite blocks are kept: the measured time
    is that of the function the package exports, which takes weights in the user's layout.
    No tensor-intrinsic registry is needed: scheduling already inlined the intrinsics.
    Compiled by ``compile_kernels``, as packages are (arguments need element alignment only).
    """
    from autotune.measure.alignment import compile_kernels  # pylint: disable=import-outside-toplevel

    return compile_kernels(mod, target).mod


@derived_object
class WarmBuilder(PyBuilder):
    """Builds candidates in a process pool that is kept across batches."""

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        timeout_sec: float = 30.0,
        recycle_every: int = 16,
        build_func: Callable[[IRModule, Target, Any], Module] = build_candidate,
    ) -> None:
        """``build_func`` must be a module-level function: it is pickled by reference."""
        super().__init__()
        self.build_func = build_func
        self.max_workers = max_workers or cpu_count(logical=True)
        self.timeout_sec = timeout_sec
        self.recycle_every = recycle_every
        self._pool: PopenPoolExecutor | None = None
        self._batches = 0

    def _get_pool(self) -> PopenPoolExecutor:
        if self._pool is not None and self._batches >= self.recycle_every:
            self.shutdown()
        if self._pool is None:
            self._pool = PopenPoolExecutor(max_workers=self.max_workers, timeout=self.timeout_sec,
                                           initializer=die_with_parent,
                                           initargs=(os.getpid(),))
            self._batches = 0
        self._batches += 1
        return self._pool

    def build(self, build_inputs: list[BuilderInput]) -> list[BuilderResult]:
        pool = self._get_pool()
        # The export function is None (TVM's default, looked up in the worker): registered
        # functions are FFI objects and cannot be pickled into the job.
        jobs = [
            (self.build_func, None, x.mod, x.target, _serialize_params(x.params))
            for x in build_inputs
        ]
        results: list[BuilderResult] = []
        for res in pool.map_with_error_catching(lambda job: _worker_func(*job), jobs):
            if res.status == StatusKind.COMPLETE:
                results.append(BuilderResult(res.value, None))
            elif res.status == StatusKind.TIMEOUT:
                results.append(
                    BuilderResult(None, f"WarmBuilder: timeout, killed after {self.timeout_sec} s")
                )
            else:
                results.append(BuilderResult(None, f"WarmBuilder: build failed\n{res.value}"))
        return results

    def shutdown(self) -> None:
        """Stop the worker processes (a new pool starts on the next build)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
