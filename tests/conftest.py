"""Shared fixtures: one tiny tuning run per test session, reused by every test that needs a log.

Every test that uses that run is marked ``tuning`` here, so ``-m "not tuning"`` runs no
search at all. ``run_script`` runs a script of ``scripts/`` as a user does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import autotune
from autotune.hardware.target import resolve_target
from autotune.search.intrinsics import load_tensor_intrinsics
from autotune.search.workers import Workers

# Small, but unusual: odd channels, non-square kernel, stride 2, padding 1.
TINY_CONV = dict(n=1, c=5, h=11, w=9, k=7, kh=3, kw=2, stride=2, padding=1, groups=1)
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def run_script() -> Callable[..., subprocess.CompletedProcess]:
    """``run_script(name, *args)``: ``python scripts/<name> args...``, its output captured."""

    def run(name: str, *args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)],
                              capture_output=True, text=True, check=False)

    return run


@pytest.fixture(scope="session")
def cpu():
    """The host target, with its tensor intrinsics registered as a search registers them
    (a bare ``TuneContext`` would parse every backend's first: tens of seconds)."""
    target = resolve_target("cpu")
    load_tensor_intrinsics(target)
    return target


@pytest.fixture(scope="session")
def workers():
    """One warm builder and runner for the session's searches (each would start its own:
    seconds of TVM imports in every worker)."""
    with Workers() as warm:
        yield warm


@pytest.fixture(scope="session")
def tuned(workers, tmp_path_factory, cpu):
    """A log with 16 measured candidates of TINY_CONV (its own layout alone) for the host
    CPU, and its result."""
    log_dir = tmp_path_factory.mktemp("logs")
    wl = autotune.Workload("conv2d", **TINY_CONV)
    result = autotune.tune(wl, cpu, trials=16, log_dir=log_dir, progress=False, workers=workers,
                           search=autotune.SearchOptions(trials_per_iter=16, seed=0, population=64,
                                                         variants="none"))
    return wl, log_dir, result


def pytest_collection_modifyitems(items):
    for item in items:
        if "tuned" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.tuning)
