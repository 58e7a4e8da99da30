"""One timing protocol for every compiled kernel: warm-up, repeats, median and spread."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import tvm


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeat`` samples, each the mean of ``number`` calls."""

    median: float
    min: float
    max: float
    samples: int

    @property
    def spread(self) -> float:
        """(max - min) / median."""
        return (self.max - self.min) / self.median if self.median else 0.0

    def to_json(self) -> dict:
        return asdict(self)


def time_module(
    executable,
    args: list,
    dev: tvm.runtime.Device,
    *,
    repeat: int = 20,
    min_repeat_ms: int = 20,
) -> Timing:
    """Time ``executable['main'](*args)`` on ``dev`` with TVM's time evaluator.

    Each of ``repeat`` samples runs the kernel enough times to last ``min_repeat_ms`` after a
    warm-up call, so tiny kernels are not dominated by timer resolution.
    """
    evaluator = executable.time_evaluator(
        "main", dev, number=1, repeat=repeat, min_repeat_ms=min_repeat_ms
    )
    samples = np.asarray(evaluator(*args).results, dtype=np.float64)
    return Timing(float(np.median(samples)), float(samples.min()), float(samples.max()), len(samples))


def time_callable(fn, args: list, *, repeat: int = 20, min_repeat_ms: int = 20) -> Timing:
    """Time a Python callable with the same protocol as ``time_module``."""
    fn(*args)  # warm-up
    start = time.perf_counter()
    fn(*args)
    once = max(time.perf_counter() - start, 1e-9)
    number = max(1, int(min_repeat_ms / 1e3 / once))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        samples.append((time.perf_counter() - start) / number)
    arr = np.asarray(samples)
    return Timing(float(np.median(arr)), float(arr.min()), float(arr.max()), len(arr))
