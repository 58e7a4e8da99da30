"""Workload parameters, keys, and every validation error."""

from __future__ import annotations

import pytest

from autotune.errors import WorkloadError
from autotune.workload import Workload

ISSUE_EXAMPLE = dict(n=1, c=19, h=43, w=29, k=31, kh=5, kw=3, stride=(2, 1), padding=(2, 1),
                     dilation=(1, 2), groups=1, dtype="float32")


def test_key_is_readable_and_round_trips():
    wl = Workload("conv2d", **ISSUE_EXAMPLE)
    assert wl.key == "conv2d-n1-c19-h43-w29-k31-kh5-kw3-s2x1-p2x1-d1x2-g1-float32"
    assert Workload.from_key(wl.key) == wl
    assert Workload.from_json(wl.to_json()) == wl
    assert wl.symbol.isidentifier()


def test_cli_strings_parse_like_python_values():
    a = Workload("conv2d", c="19", h="43", w="29", k="31", kh="5", kw="3", stride="2,1",
                 padding="2x1", dilation="(1, 2)")
    assert a == Workload("conv2d", **ISSUE_EXAMPLE)
    assert Workload("conv2d", c=4, h=5, w=5, k=4, stride=2).params["stride"] == (2, 2)


def test_flops_and_bytes():
    wl = Workload("gemm", m=2, n=3, k=4)
    assert wl.flops == 2 * 2 * 3 * 4
    assert wl.bytes_moved == 4 * (2 * 4 + 4 * 3 + 2 * 3)
    conv = Workload("conv2d", **ISSUE_EXAMPLE)
    assert conv.output_spec.shape == (1, 31, 22, 27)
    assert conv.flops == 2 * 31 * 22 * 27 * 19 * 5 * 3


BAD = [
    (("nope",), {}, "unknown kernel 'nope'"),
    (("gemm",), dict(m=2, n=3), "missing parameter 'k'"),
    (("gemm",), dict(m=0, n=3, k=4), "parameter 'm' must be positive"),
    (("gemm",), dict(m=-2, n=3, k=4), "parameter 'm' must be positive"),
    (("gemm",), dict(m="x", n=3, k=4), "parameter 'm': expected an integer"),
    (("gemm",), dict(m=2.5, n=3, k=4), "parameter 'm': expected an integer"),
    (("gemm",), dict(m=2, n=3, k=4, dtype="int8"), "parameter 'dtype': unknown dtype"),
    (("gemm",), dict(m=2, n=3, k=4, q=1), "has no parameter 'q'"),
    (("conv2d",), dict(c=6, h=5, w=5, k=6, groups=4), "'groups'=4 does not divide c=6"),
    (("conv2d",), dict(c=6, h=5, w=5, k=8, groups=3), "'groups'=3 does not divide k=8"),
    (("conv2d",), dict(c=6, h=5, w=5, k=6, groups=0), "parameter 'groups' must be positive"),
    (("conv2d",), dict(c=3, h=5, w=5, k=3, kh=6), "parameter 'kh': dilated kernel extent 6"),
    (("conv2d",), dict(c=3, h=5, w=5, k=3, kw=3, dilation=(1, 3)), "parameter 'kw': dilated kernel"),
    (("conv2d",), dict(c=3, h=5, w=5, k=3, stride=(1, 0)), "parameter 'stride' must be positive"),
    (("conv2d",), dict(c=3, h=5, w=5, k=3, padding=-1), "parameter 'padding' must be >= 0"),
    (("conv2d",), dict(c=3, h=5, w=5, k=3, stride=(1, 2, 3)), "parameter 'stride': expected an int"),
    (("softmax",), dict(m=3, n=0), "parameter 'n' must be positive"),
]


@pytest.mark.parametrize("args,params,message", BAD, ids=[b[2] for b in BAD])
def test_invalid_parameters_name_the_problem(args, params, message):
    with pytest.raises(WorkloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Workload(*args, **params)


@pytest.mark.parametrize("key", ["conv2d-n1", "gemm-m3-x4-k5-float32", "gemm-m3-n4-k5"])
def test_malformed_keys(key):
    with pytest.raises(WorkloadError, match="malformed workload key"):
        Workload.from_key(key)


def test_epilogue_is_in_the_key_only_when_given():
    plain = Workload("conv2d", c=4, h=6, w=6, k=8)
    assert "-e" not in plain.key and plain.params["epilogue"] == ""
    fused = Workload("conv2d", c=4, h=6, w=6, k=8, epilogue="bias, relu6")
    assert fused.key == plain.key.replace("-float32", "-ebias+relu6-float32")
    assert Workload.from_key(fused.key) == fused and Workload.from_key(plain.key) == plain
    assert [s.shape for s in fused.input_specs] == [(1, 4, 6, 6), (8, 4, 3, 3), (8,)]
    assert fused.weight_inputs == (1, 2) and plain.weight_inputs == (1,)
    with_residual = Workload("conv2d", c=4, h=6, w=6, k=8, epilogue=["add", "relu"])
    assert with_residual.input_specs[2].shape == with_residual.output_spec.shape


@pytest.mark.parametrize("epilogue,message", [
    ("bias+gelu", "unknown step 'gelu'"),
    ("bias+bias", "named twice"),
    ("relu+relu6", "at most one of relu, relu6"),
    (3, "expected steps"),
])
def test_bad_epilogues_name_the_problem(epilogue, message):
    with pytest.raises(WorkloadError, match=message):
        Workload("conv2d", c=4, h=6, w=6, k=8, epilogue=epilogue)
