"""Every template's untuned (default-schedule) build matches its NumPy reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from cases import CASES

from autotune.errors import WorkloadError
from autotune.hardware.target import resolve_target
from autotune.measure.compile import check_numerics, compile_module, run, scheduled_module
from autotune.workload import Workload
from autotune.workload.registry import templates

# Every case again through each layout variant that accepts it (same arguments, same result).
ALL = CASES + [(v.kernel, p) for k, p in CASES for v in Workload(k, **p).variants()[1:]]


def test_every_template_is_covered():
    assert {kernel for kernel, _ in ALL} == set(templates())


def test_variants_share_the_calling_convention():
    depthwise = Workload("conv2d", c=8, h=9, w=7, k=8, groups=8, padding=1)
    assert [v.kernel for v in depthwise.variants()] == \
        ["conv2d", "conv2d_dw_nchwc", "conv2d_dw_rows", "conv2d_nhwc"]
    grouped = Workload("conv2d", c=8, h=9, w=7, k=16, groups=8, padding=1)  # multiplier 2
    assert [v.kernel for v in grouped.variants()] == ["conv2d", "conv2d_nhwc"]
    blocked = Workload("conv2d", c=8, h=9, w=7, k=16, groups=2, padding=1)  # 8 a group
    assert [v.kernel for v in blocked.variants()] == ["conv2d", "conv2d_nchwc", "conv2d_nhwc"]
    plain = Workload("conv2d", c=3, h=9, w=7, k=53, stride=2)
    variants = plain.variants()
    assert [v.kernel for v in variants] == ["conv2d", "conv2d_nchwc", "conv2d_nhwc"]
    for v in variants:
        assert v.base == plain and v.input_specs == plain.input_specs
        assert v.output_spec == plain.output_spec and v.flops == plain.flops
    assert Workload("gemm", m=2, n=3, k=4).variants() == [Workload("gemm", m=2, n=3, k=4)]
    pointwise = Workload("conv2d", c=8, h=5, w=7, k=12, kh=1, kw=1)
    assert [v.kernel for v in pointwise.variants()] == \
        ["conv2d", "conv2d_nchwc", "conv2d_nhwc", "conv2d_pw_nchw"]


@pytest.mark.parametrize("params", [dict(kh=3, padding=1), dict(stride=2), dict(padding=1),
                                    dict(groups=2)])
def test_the_flat_pixel_variant_is_for_pointwise_convs_alone(params):
    shape = {"c": 8, "h": 5, "w": 7, "k": 12, "kh": 1, "kw": 1, **params}
    with pytest.raises(WorkloadError, match="conv2d_pw_nchw is for pointwise convs"):
        Workload("conv2d_pw_nchw", **shape)


def test_the_auto_policy_tunes_the_layouts_expected_to_pay():
    def kernels(**params):
        return [v.kernel for v in Workload("conv2d", **params).variants("auto")]

    # Pointwise (stride 1, unpadded): blocked and as a GEMM over the flat pixels, not NCHW.
    assert kernels(c=320, h=7, w=7, k=1280, kh=1, kw=1, epilogue="bias+relu6") == \
        ["conv2d_nchwc", "conv2d_pw_nchw"]
    assert kernels(c=16, h=8, w=8, k=3, kh=1, kw=1) == ["conv2d_nchwc", "conv2d_pw_nchw"]
    # Strided pointwise, k a whole number of blocks (or padded by at most 1/8): blocked alone.
    assert kernels(c=64, h=28, w=28, k=36, kh=1, kw=1, stride=2) == ["conv2d_nchwc"]  # 40/36
    # Strided pointwise with k padded more, dense and grouped convs: both layouts, the
    # faster serves.
    assert kernels(c=16, h=8, w=8, k=3, kh=1, kw=1, stride=2) == ["conv2d", "conv2d_nchwc"]
    assert kernels(c=3, h=9, w=7, k=53, stride=2) == ["conv2d", "conv2d_nchwc"]
    assert kernels(c=8, h=9, w=7, k=16, groups=2, padding=1) == ["conv2d", "conv2d_nchwc"]
    # Depthwise: in channel blocks and in rows of whole vectors instead of NCHW, or, where
    # rows are read with a stride, in NCHW beside the blocks.
    assert kernels(c=8, h=9, w=7, k=8, groups=8, padding=1) == \
        ["conv2d_dw_nchwc", "conv2d_dw_rows"]
    assert kernels(c=8, h=9, w=7, k=8, groups=8, stride=(1, 2)) == \
        ["conv2d", "conv2d_dw_nchwc"]
    # No variant accepts it: the kernel alone. NHWC is left to "all".
    assert kernels(c=8, h=9, w=7, k=16, groups=8, padding=1) == ["conv2d"]
    gemm = Workload("gemm", m=2, n=3, k=4)
    assert gemm.variants("auto") == gemm.variants("none") == gemm.variants("all") == [gemm]
    plain = Workload("conv2d", c=3, h=9, w=7, k=53, stride=2)
    assert plain.variants("none") == [plain] and plain.variants() == plain.variants("all")
    with pytest.raises(WorkloadError, match="unknown variant policy 'some'; choose one of none"):
        plain.variants("some")


@pytest.mark.parametrize("kernel,params", ALL, ids=[Workload(k, **p).key for k, p in ALL])
def test_default_build_matches_reference(kernel, params):
    wl = Workload(kernel, **params)
    target = resolve_target("cpu")
    assert check_numerics(compile_module(scheduled_module(wl, None), target), wl, target) is None
    # The form the template writes for CPUs, where it has one of its own (softmax's).
    assert check_numerics(compile_module(wl.module(target), target), wl, target) is None


def _conv_by_loops(p, x, w):
    """Direct definition of a grouped, strided, padded, dilated convolution: no NumPy tricks."""
    (sh, sw), (ph, pw), (dh, dw) = p["stride"], p["padding"], p["dilation"]
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    kg = k // p["groups"]
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, k, oh, ow))
    for b, o, i, j, ci, r, q in itertools.product(
        range(n), range(k), range(oh), range(ow), range(cg), range(kh), range(kw)
    ):
        yy, xx = i * sh + r * dh - ph, j * sw + q * dw - pw
        if 0 <= yy < h and 0 <= xx < wd:
            y[b, o, i, j] += x[b, o // kg * cg + ci, yy, xx] * w[o, ci, r, q]
    return y


@pytest.mark.parametrize("params", [c[1] for c in CASES if c[0] == "conv2d"])
def test_conv2d_reference_matches_definition(params):
    wl = Workload("conv2d", **params)
    x, w, *rest = wl.make_inputs()
    want = _conv_by_loops(wl.params, x, w)
    for step in wl.params["epilogue"].split("+") if wl.params["epilogue"] else []:
        if step == "bias":  # per output channel
            want = want + rest.pop(0)[None, :, None, None]
        elif step == "add":
            want = want + rest.pop(0)
        elif step == "silu":
            want = want / (1 + np.exp(-want))
        elif step == "hardswish":
            want = want * np.minimum(np.maximum(want + 3, 0), 6) / 6
        else:
            want = np.minimum(np.maximum(want, 0), 6 if step == "relu6" else np.inf)
    tol = 1e-5 if wl.params["dtype"] == "float32" else 2e-3  # the reference rounds float16 output
    np.testing.assert_allclose(wl.reference(*wl.make_inputs()), want, rtol=tol, atol=tol)


def test_check_reports_a_wrong_result():
    wl = Workload("gemm", m=4, n=5, k=6)
    a, b = wl.make_inputs()
    good = wl.reference(a, b)
    assert wl.check(good, [a, b]) is None
    bad = good.copy()
    bad[1, 2] += 0.01
    assert "1 of 20 elements differ" in wl.check(bad, [a, b])
    assert "shape" in wl.check(good[:, :4], [a, b])


def test_run_returns_numpy_output():
    wl = Workload("add", n=10)
    target = resolve_target("cpu")
    x, y = wl.make_inputs()
    out = run(compile_module(wl.module(), target), wl, [x, y], __import__("tvm").cpu())
    np.testing.assert_array_equal(out, x + y)
