"""What a baseline is: another implementation of a workload, prepared for ``measure``."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from autotune.measure.protocol import Prepared
from autotune.workload import Workload


class Baseline(ABC):
    """A vendor library computing workloads; timed and checked like the tuned kernels."""

    name: str
    device: str  # "cpu" or "cuda": the target kind it competes on
    kernels: frozenset[str]  # the kernel templates it implements

    def unavailable(self) -> str | None:
        """None if it can run here, else a one-line reason (e.g. a missing package)."""
        return None

    def supports(self, workload: Workload) -> bool:
        return workload.kernel in self.kernels

    def constant_weights(self, workload: Workload) -> bool:
        """Whether the library gets the weights once, before timing, rather than every call."""
        return False

    @abstractmethod
    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        """Bind the library's implementation of ``workload`` to the input sets."""
