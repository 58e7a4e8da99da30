"""The warm builder: a crashing or hanging candidate costs only itself, the pool goes on."""

from __future__ import annotations

import os
from pathlib import Path

from tvm.s_tir.meta_schedule.builder import BuilderInput

from autotune.search.builder import WarmBuilder
from autotune.workload import Workload


def test_crash_and_hang_are_failed_candidates_and_the_pool_survives(cpu, monkeypatch):
    tests_dir = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]))
    from faulty_build import faulty_build

    builder = WarmBuilder(max_workers=2, timeout_sec=3, build_func=faulty_build)
    try:
        inputs = [BuilderInput(Workload("add", n=n).module(), cpu) for n in (10, 11, 12, 13)]
        ok, crashed, hung, ok2 = builder.build(inputs)
        assert ok.error_msg is None and Path(ok.artifact_path).exists()
        assert ok2.error_msg is None
        assert crashed.artifact_path is None and "build failed" in crashed.error_msg
        assert hung.artifact_path is None and "timeout, killed after 3" in hung.error_msg
        again = builder.build([BuilderInput(Workload("add", n=14).module(), cpu)])
        assert again[0].error_msg is None  # the same pool builds the next batch
    finally:
        builder.shutdown()
