"""One thread count for every implementation: TVM's runtime pool, BLAS/OpenMP, PyTorch.

TVM sizes its thread pool once, from ``TVM_NUM_THREADS``, when the first parallel kernel
runs; without it, x86 hosts get half the logical CPUs (it assumes hyper-threading), so a
2-core machine without SMT runs TVM kernels on one thread while OpenBLAS uses two.
"""

from __future__ import annotations

import os
import sys
import warnings

import tvm

_limits = None  # the threadpoolctl limiter in force, kept alive so the limit holds


def size_tvm_pool(count: int) -> int:
    """Give TVM's thread pool ``count`` threads, in this process and the worker processes it
    starts. Returns the threads the pool really has: if it was created earlier with another
    size (a parallel TVM kernel already ran in this process), it warns; TVM cannot resize it."""
    if count < 1:
        raise ValueError(f"thread count must be >= 1, got {count}")
    os.environ["TVM_NUM_THREADS"] = str(count)  # read by this process's pool and by workers
    have = int(tvm.get_global_func("runtime.NumThreads")())
    if have != count:
        warnings.warn(
            f"TVM's thread pool already runs {have} threads in this process, not {count}: "
            "set TVM_NUM_THREADS before the first TVM kernel runs",
            RuntimeWarning,
            stacklevel=3,
        )
    return have


def set_threads(count: int) -> int:
    """Use ``count`` threads in TVM (and its child processes), BLAS, OpenMP and PyTorch.

    Returns the number of threads TVM's pool really has (see ``size_tvm_pool``).
    """
    global _limits  # noqa: PLW0603
    have = size_tvm_pool(count)
    from threadpoolctl import threadpool_limits  # pylint: disable=import-outside-toplevel

    _limits = threadpool_limits(limits=count)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(count)
    return have


def threads_in_use() -> int:
    """The thread count in force for every implementation: that of this process's TVM pool
    (``set_threads`` sizes it). Libraries configured per session (ONNX Runtime) take it."""
    return int(tvm.get_global_func("runtime.NumThreads")())
