"""Every baseline computes every workload it claims, in the workload's dtype, correctly."""

from __future__ import annotations

import pytest
from cases import CASES

from autotune.baselines import BASELINES, baselines_for
from autotune.errors import AutotuneError
from autotune.measure.protocol import input_sets
from autotune.workload import Workload


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("kernel,params", CASES, ids=[Workload(k, **p).key for k, p in CASES])
def test_baseline_matches_reference(name, kernel, params):
    baseline = BASELINES[name]
    if baseline.unavailable():
        pytest.skip(baseline.unavailable())
    wl = Workload(kernel, **params)
    if not baseline.supports(wl):
        assert name == "cudnn" and kernel != "conv2d", f"{name} should compute {wl.key}"
        return
    sets = input_sets(wl, 2)
    prepared = baseline.prepare(wl, sets)
    for i in (1, 0):  # each set's output is its own, not the last call's
        prepared.calls[i]()
    for i in (0, 1):
        out = prepared.output(i)
        assert out.dtype == wl.output_spec.dtype and out.shape == wl.output_spec.shape
        assert wl.check(out, sets[i]) is None


def test_cpu_baselines_and_unknown_names():
    assert {b.name for b in baselines_for("cpu")} == {"numpy", "torch", "onnxruntime"}
    assert {b.name for b in baselines_for("cuda")} == {"cupy", "cudnn"}
    assert [b.name for b in baselines_for("cpu", ["numpy"])] == ["numpy"]
    with pytest.raises(AutotuneError, match="unknown baseline.*cudnnn"):
        baselines_for("cpu", ["cudnnn"])
