"""Target resolution and keys."""

from __future__ import annotations

import psutil
import pytest
import tvm

from autotune.errors import TargetError
from autotune.hardware.target import (
    device_for,
    resolve_target,
    same_target,
    target_json,
    target_key,
)


def test_cpu_is_the_real_host():
    target = resolve_target("cpu")
    data = target_json(target)
    assert data["kind"] == "llvm"
    assert data["mcpu"] == str(tvm.target.Target.from_device(tvm.cpu()).attrs["mcpu"])
    assert data["mcpu"] not in ("", "generic")
    assert data["num-cores"] == psutil.cpu_count(logical=False)


def test_cuda_builds_a_target_without_a_gpu():
    target = resolve_target("cuda:sm_90")
    assert target.kind.name == "cuda" and str(target.attrs["arch"]) == "sm_90"
    assert target.host.kind.name == "llvm"
    assert str(target.host.attrs["mcpu"]) == str(resolve_target("cpu").attrs["mcpu"])


def test_json_targets_and_keys_differ_by_target():
    a = resolve_target('{"kind": "llvm", "mcpu": "skylake-avx512", "num-cores": 2}')
    b = resolve_target({"kind": "llvm", "mcpu": "skylake-avx512", "num-cores": 4})
    assert target_key(a) != target_key(b)
    assert target_key(a).startswith("llvm-skylake-avx512-2c-")
    cpu = resolve_target("cpu")  # the key is the same when the target is rebuilt from its JSON
    assert target_key(tvm.target.Target(target_json(cpu))) == target_key(cpu)
    assert same_target(tvm.target.Target(target_json(cpu)), cpu) and not same_target(a, b)


@pytest.mark.parametrize("spec,message", [
    ("gpu", "unknown target 'gpu'"),
    ("{bad", "target JSON is malformed"),
    ('{"kind": "nope"}', "TVM rejected the target"),
    ('{"kind": "llvm", "mcpu": 3}', "TVM rejected the target"),
    (42, "target must be a string or a JSON object"),
])
def test_bad_targets(spec, message):
    with pytest.raises(TargetError, match=message):
        resolve_target(spec)


def test_cuda_device_missing_is_a_clear_error():
    if tvm.cuda(0).exist:
        pytest.skip("a GPU is present")
    with pytest.raises(TargetError, match="no cuda device is present"):
        device_for(resolve_target("cuda:sm_90"))
