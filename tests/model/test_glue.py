"""The default schedules of the ops around the tuned kernels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tvm")

import tvm  # noqa: E402
from tvm import relax  # noqa: E402

from autotune.hardware.target import resolve_target  # noqa: E402
from autotune.model.glue import schedule_glue  # noqa: E402


def _silu_module(shape):
    """x * sigmoid(x) (EfficientNet's SiLU) and exp(x), as Relax legalizes them."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(shape, "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            silu = bb.emit(relax.op.multiply(x, relax.op.sigmoid(x)))
            out = bb.emit_output(relax.Tuple([silu, relax.op.exp(x)]))
        bb.emit_func_output(out)
    return relax.transform.LegalizeOps()(bb.get())


def test_exp_and_sigmoid_are_arithmetic_vectorised_and_accurate():
    """TVM lowers exp and sigmoid to one scalar expf call per element, which LLVM never
    vectorises; the glue computes them in arithmetic, in vector loops, to float32 accuracy."""
    target = resolve_target("cpu")
    mod = schedule_glue(_silu_module((1, 3, 17, 19)), target)
    glue = [f for _, f in mod.functions_items() if isinstance(f, tvm.tirx.PrimFunc)]
    assert glue
    script = "\n".join(f.script() for f in glue)
    assert "T.exp(" not in script and "T.sigmoid(" not in script
    assert "T.vectorized(" in script
    x = np.random.default_rng(0).uniform(-30, 30, (1, 3, 17, 19)).astype(np.float32)
    x.flat[:4] = [0.0, -100.0, 100.0, 88.0]  # past exp's float32 range both ways
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    silu, exp = (o.numpy() for o in vm["main"](tvm.runtime.tensor(x)))
    x64 = x.astype(np.float64)
    want_silu = x64 / (1 + np.exp(-x64))
    np.testing.assert_allclose(silu, want_silu, rtol=1e-6, atol=1e-36)
    assert np.isfinite(silu).all()
    # exp is clamped below to float32's least normal number (tir_math.fast_expf)
    finite = x64 < 88
    np.testing.assert_allclose(exp[finite], np.exp(x64)[finite], rtol=1e-6, atol=1.2e-38)


def test_a_vector_never_straddles_two_rows():
    """16 lanes over rows of 56 are loaded element by element (TVM cannot prove them
    contiguous): the lanes divide a row, or are the whole row when it is short."""
    from autotune.model.glue import vector_lanes

    assert [vector_lanes(n) for n in (112, 56, 28, 14, 7, 100, 97, 3)] == [
        16, 8, 28, 14, 7, 4, 16, 3]
    target = resolve_target("cpu")
    mod = schedule_glue(_silu_module((1, 5, 6, 14)), target)
    script = "\n".join(f.script() for _, f in mod.functions_items()
                       if isinstance(f, tvm.tirx.PrimFunc))
    assert "T.vectorized(T.int64(14))" in script


def _mean_module(shape, axes):
    """A mean over ``axes`` (a squeeze-and-excitation block's global average pool)."""
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType(shape, "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(relax.op.mean(x, axis=axes, keepdims=True))
        bb.emit_func_output(out)
    return relax.transform.LegalizeOps()(bb.get())


@pytest.mark.parametrize("shape, axes, vectorised", [
    ((1, 6, 24, 16), [2, 3], True),     # 384 a row: 64 lanes of partial sums
    ((2, 3, 14, 14), [2, 3], True),     # 196: 4 lanes
    ((1, 5, 7, 7), [2, 3], False),      # 49: no lanes divide it, dlight's rule
    ((1, 8, 6, 10), [1], False),        # over the channels: not the innermost axes
])
def test_a_mean_over_the_innermost_axes_sums_vectors(shape, axes, vectorised):
    """A global average pool is summed as a vector of partial sums per row (dlight's rule
    sums each row into one scalar, a chain of dependent adds); other reductions keep
    dlight's rule. Both give NumPy's mean."""
    target = resolve_target("cpu")
    mod = schedule_glue(_mean_module(shape, axes), target)
    script = "\n".join(f.script() for _, f in mod.functions_items()
                       if isinstance(f, tvm.tirx.PrimFunc))
    assert ("_rf" in script and "T.vectorized(" in script) == vectorised
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    got = vm["main"](tvm.runtime.tensor(x)).numpy()
    want = x.astype(np.float64).mean(axis=tuple(axes), keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
