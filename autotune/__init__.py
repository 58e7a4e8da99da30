"""autotune: tune kernels with TVM MetaSchedule, validate them, compare and ship them.

The package is laid out by the stages of the data path: ``workload`` -> ``kernels`` (the
templates) -> ``search`` -> ``logs`` -> ``measure`` -> ``baselines`` -> ``benchmark`` ->
``report`` -> ``deploy``, with ``hardware`` and ``model`` beside them. Heavy modules load on
first use, so ``from autotune.deploy import load_package`` in a deployment process pulls in
no tuning code.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Workload": "autotune.workload",
    "tune": "autotune.search.tune",
    "tune_many": "autotune.search.tune",
    "bench": "autotune.benchmark.run",
    "load_suite": "autotune.workload.suite",
    "TuneResult": "autotune.search.tune",
    "SearchOptions": "autotune.search.options",
    "Budget": "autotune.search.options",
    "Workers": "autotune.search.workers",
    "Remote": "autotune.remote",
    "RayCluster": "autotune.cluster.ray_suite",
    "export": "autotune.deploy.export",
    "load_package": "autotune.deploy",
    "inspect": "autotune.inspection.kernel",
    "inspect_package": "autotune.inspection.kernel",
    "templates": "autotune.workload.registry",
    "resolve_target": "autotune.hardware.target",
    "AutotuneError": "autotune.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'autotune' has no attribute {name!r}")
