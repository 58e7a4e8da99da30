"""autotune: tune kernels with TVM MetaSchedule, validate them, compare and ship them.

Heavy modules load on first use, so ``from autotune.package import load_package`` in a
deployment process pulls in no tuning code.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Workload": "autotune.workload",
    "tune": "autotune.tuning",
    "tune_many": "autotune.tuning",
    "bench": "autotune.bench",
    "load_suite": "autotune.suite",
    "TuneResult": "autotune.tuning",
    "SearchOptions": "autotune.options",
    "export": "autotune.exporter",
    "load_package": "autotune.package",
    "templates": "autotune.registry",
    "resolve_target": "autotune.target",
    "AutotuneError": "autotune.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'autotune' has no attribute {name!r}")
