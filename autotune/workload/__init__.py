"""The workload stage: kernel templates' base classes, the template registry, workloads and suites."""

from autotune.workload.workload import Workload

__all__ = ["Workload"]
