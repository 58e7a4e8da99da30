"""Shared fixtures: one tiny tuning run per test session, reused by every test that needs a log."""

from __future__ import annotations

import pytest

import autotune
from autotune.target import resolve_target

# Small, but unusual: odd channels, non-square kernel, stride 2, padding 1.
TINY_CONV = dict(n=1, c=5, h=11, w=9, k=7, kh=3, kw=2, stride=2, padding=1, groups=1)


@pytest.fixture(scope="session")
def cpu():
    return resolve_target("cpu")


@pytest.fixture(scope="session")
def tuned(tmp_path_factory, cpu):
    """A log with 16 measured candidates of TINY_CONV for the host CPU, and its result."""
    log_dir = tmp_path_factory.mktemp("logs")
    wl = autotune.Workload("conv2d", **TINY_CONV)
    result = autotune.tune(wl, cpu, trials=16, log_dir=log_dir, progress=False,
                           search=autotune.SearchOptions(trials_per_iter=16, seed=0))
    return wl, log_dir, result
