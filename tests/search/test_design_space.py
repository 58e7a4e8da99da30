"""A template no schedule rule can sketch is one clear error naming it, not a traceback."""

from __future__ import annotations

import pytest
from two_writers import TEMPLATE

import autotune
from autotune.errors import WorkloadError
from autotune.workload import registry


def test_a_template_without_a_design_space_is_named(cpu, tmp_path, monkeypatch, workers):
    known = {**registry.templates(), TEMPLATE.name: TEMPLATE}
    monkeypatch.setattr(registry, "templates", lambda: known)
    workload = autotune.Workload("two_writers", m=4, n=67, k=16)
    with pytest.raises(WorkloadError, match=r"design space for two_writers-m4-n67-k16-float32: "
                                            r"The buffer C is expected to be written by single"):
        autotune.tune(workload, cpu, trials=2, log_dir=tmp_path, progress=False,
                      workers=workers)
