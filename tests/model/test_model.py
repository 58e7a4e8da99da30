"""Whole ONNX models: mapping to workloads, tuning, building from logs, packages, comparison."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import tvm  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from autotune.errors import LogError, ModelError, PackageError  # noqa: E402
from autotune.hardware.target import resolve_target  # noqa: E402
from autotune.model import (  # noqa: E402
    build_model,
    compare_model,
    load_model_package,
    load_onnx,
    map_workloads,
    onnxruntime_ref,  # noqa: E402
    tune_model,
)
from autotune.model.sample import sample_model  # noqa: E402
from autotune.search.options import SearchOptions  # noqa: E402

TINY_KEYS = [
    "conv2d-n1-c3-h11-w9-k5-kh3-kw3-s2x2-p1x1-d1x1-g1-ebias+relu-float32",  # strided, bias + ReLU
    "conv2d-n1-c5-h6-w5-k5-kh3-kw3-s1x1-p2x2-d2x2-g5-float32",  # dilated depthwise
    "conv2d-n1-c5-h6-w5-k4-kh5-kw1-s1x1-p2x0-d1x1-g1-erelu-float32",  # 5x1, ReLU
    "conv2d-n1-c4-h6-w5-k3-kh1-kw1-s1x1-p0x0-d1x1-g1-float32",  # 1x1, odd channels
    "gemm-m1-n2-k3-float32",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_onnx(sample_model(tmp_path_factory.mktemp("model") / "tiny.onnx", "tiny"))


def conv_model(path, pads, y_shape, x_shape=(1, 3, 8, 8), dims=None):
    """One conv, for edge cases: given pads, optionally symbolic input dims."""
    w = numpy_helper.from_array(np.ones((2, x_shape[1], 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=pads)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims or list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], [w])
    import onnx

    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_every_conv_and_matmul_becomes_a_workload(tiny):
    mapping = map_workloads(tiny.relax_module())
    assert [w.key for w in mapping.workloads] == TINY_KEYS
    assert mapping.skipped == []
    assert [i.to_json() for i in tiny.inputs] == [{"name": "x", "shape": [1, 3, 11, 9],
                                                   "dtype": "float32"}]


def epilogue_model(path):
    """conv + bias + Clip(0, 6), then a 1x1 conv + bias + residual add + ReLU, and a conv
    whose output is also used elsewhere (its epilogue stays in the graph)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
             for name, shape in (("w1", (8, 4, 3, 3)), ("b1", (8,)), ("w2", (8, 8, 1, 1)),
                                 ("b2", (8,)), ("w3", (8, 8, 1, 1)))]
    inits += [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", 0), ("hi", 6))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4),
             helper.make_node("Clip", ["c1", "lo", "hi"], ["a1"]),
             helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"]),
             helper.make_node("Add", ["c2", "a1"], ["s"]),
             helper.make_node("Relu", ["s"], ["r"]),
             helper.make_node("Conv", ["r", "w3"], ["c3"]),
             helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("Add", ["r3", "c3"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    import onnx
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_conv_epilogues_become_one_workload_and_one_kernel(tmp_path):
    from autotune.model.build import run_executable
    from autotune.model.glue import schedule_glue
    from autotune.model.kernels import splice

    model = load_onnx(epilogue_model(tmp_path / "ep.onnx"))
    mod = model.relax_module()
    fused = map_workloads(mod)
    assert [w.params["epilogue"] for w in fused.workloads] == ["bias+relu6", "bias+add+relu", ""]
    plain = map_workloads(mod, epilogues=False)  # the two 1x1 convs are one workload
    assert [w.params["epilogue"] for w in plain.workloads] == [""] * 2
    assert list(plain.counts.values()) == [1, 2]
    target = resolve_target("cpu")
    x = model.random_inputs(seed=0)
    want = onnxruntime_ref.run(onnxruntime_ref.session(model, 1), model, x)
    for epilogues in (True, False):
        mapping = map_workloads(mod, epilogues=epilogues)
        spliced = splice(mod, {w: w.prim_func() for w in mapping.workloads}, epilogues=epilogues)
        names = {gv.name_hint for gv, _ in spliced.functions_items()}
        # Fused: the three kernels, and the last conv's ReLU and add, which read its output twice.
        assert ("maximum" in names) != epilogues and "relu" in names
        got = run_executable(tvm.compile(schedule_glue(spliced, target), target=target),
                             model, x, tvm.cpu())
        assert onnxruntime_ref.mismatch(got, want) is None


def graph_model(path, nodes, inits, x_shape, y_shape):
    """A one-input, one-output float32 ONNX model (opset 17) of ``nodes``, saved at ``path``."""
    import onnx

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def assert_spliced_build_matches_onnxruntime(model, spliced):
    """``spliced`` (the model's Relax module with kernels spliced in), built with the glue's
    schedules, computes what ONNX Runtime computes on the model."""
    from autotune.model.build import run_executable
    from autotune.model.glue import schedule_glue

    target = resolve_target("cpu")
    x = model.random_inputs(seed=0)
    want = onnxruntime_ref.run(onnxruntime_ref.session(model, 1), model, x)
    got = run_executable(tvm.compile(schedule_glue(spliced, target), target=target),
                         model, x, tvm.cpu())
    assert onnxruntime_ref.mismatch(got, want) is None


def test_a_residual_blocks_two_branches_keep_their_own_biases(tmp_path):
    """ResNet's downsampling block: two convs with biases, joined by an add and a ReLU. The
    later conv takes the join; the earlier one keeps its bias fused instead of losing its
    whole chain to the other, and the build still matches ONNX Runtime."""
    from autotune.model.kernels import splice

    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
             for name, shape in (("w1", (8, 4, 3, 3)), ("b1", (8,)), ("w2", (8, 4, 1, 1)),
                                 ("b2", (8,)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["main"], pads=[1] * 4),
             helper.make_node("Conv", ["x", "w2", "b2"], ["short"]),
             helper.make_node("Add", ["main", "short"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    model = load_onnx(graph_model(tmp_path / "res.onnx", nodes, inits, (1, 4, 8, 8), (1, 8, 8, 8)))
    mod = model.relax_module()
    mapping = map_workloads(mod)
    assert [(w.params["kh"], w.params["epilogue"]) for w in mapping.workloads] == [
        (3, "bias"), (1, "bias+add+relu")]
    spliced = splice(mod, {w: w.prim_func() for w in mapping.workloads})
    names = [gv.name_hint for gv, _ in spliced.functions_items()]
    assert not [n for n in names if n.startswith(("add", "relu"))], names  # all fused
    assert_spliced_build_matches_onnxruntime(model, spliced)


def _silu(x, y, i):
    """SiLU as PyTorch exports it: Sigmoid and Mul (the first multiply's operands swapped)."""
    return [helper.make_node("Sigmoid", [x], [f"s{i}"]),
            helper.make_node("Mul", [f"s{i}", x] if i == 1 else [x, f"s{i}"], [y])]


def _hardswish(x, y, i):
    """The HardSwish node, which TVM's importer writes as x * clip(x + 3, 0, 6) / 6."""
    return [helper.make_node("HardSwish", [x], [y])]


@pytest.mark.parametrize(("name", "activation", "shared", "left"), [
    ("silu", _silu, "s2", "sigmoid"),  # the second sigmoid used twice: not a SiLU
    ("hardswish", _hardswish, "c2", "clip"),  # the second conv's output used beside it
])
def test_a_conv_followed_by_a_swish_is_one_kernel(tmp_path, name, activation, shared, left):
    """EfficientNet's and MobileNetV3's conv + bias + swish: one workload with a
    "bias+silu" or "bias+hardswish" epilogue, and the build matches ONNX Runtime. In a second
    conv's activation, a value also used elsewhere (``shared``) keeps it in the graph."""
    from autotune.model.kernels import splice

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 2, n)
             for n, shape in (("w1", (8, 4, 3, 3)), ("b1", (8,)), ("w2", (8, 8, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1] * 4),
             *activation("c", "a", 1),
             helper.make_node("Conv", ["a", "w2"], ["c2"]),
             *activation("c2", "h2", 2),
             helper.make_node("Add", ["h2", shared], ["y"])]
    model = load_onnx(graph_model(tmp_path / f"{name}.onnx", nodes, inits, (1, 4, 8, 8),
                                  (1, 8, 8, 8)))
    mod = model.relax_module()
    mapping = map_workloads(mod)
    assert [w.params["epilogue"] for w in mapping.workloads] == [f"bias+{name}", ""]
    spliced = splice(mod, {w: w.prim_func() for w in mapping.workloads})
    main = spliced["main"].script()
    assert main.count(left) == 1, main  # the second conv's, left in the graph
    assert_spliced_build_matches_onnxruntime(model, spliced)


def _constant(name, values):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(
        np.array(values, np.int64), name))


def shuffle_model(path):
    """ShuffleNetV2's channel shuffle and split as PyTorch exports them: the split point of
    ``x.chunk(2, dim=1)`` computed from the shuffled tensor's Shape."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal((4, 4, 1, 1)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1] * 4),
             _constant("groups", [1, 2, 4, 8, 8]), _constant("flat", [1, 8, 8, 8]),
             helper.make_node("Reshape", ["c", "groups"], ["g"]),
             helper.make_node("Transpose", ["g"], ["t"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "flat"], ["s"]),
             helper.make_node("Shape", ["s"], ["shape"]),
             _constant("one", [1]), _constant("two", [2]), _constant("zero", [0]),
             helper.make_node("Gather", ["shape", "one"], ["channels"], axis=0),
             helper.make_node("Add", ["channels", "one"], ["rounded"]),
             helper.make_node("Div", ["rounded", "two"], ["half"]),
             helper.make_node("Mul", ["half", "one"], ["mid"]),
             helper.make_node("Mul", ["half", "two"], ["end"]),
             helper.make_node("Slice", ["s", "zero", "mid", "one"], ["left"]),
             helper.make_node("Slice", ["s", "mid", "end", "one"], ["right"]),
             helper.make_node("Conv", ["right", "w2"], ["r2"]),
             helper.make_node("Relu", ["r2"], ["r3"]),
             helper.make_node("Concat", ["left", "r3"], ["y"], axis=1)]
    return graph_model(path, nodes, inits, (1, 4, 8, 8), (1, 8, 8, 8))


def test_shapes_computed_in_the_graph_are_folded_before_import(tmp_path):
    """A split point computed from a Shape (ShuffleNetV2 as PyTorch exports it) left TVM's
    importer a Slice of unknown shape, on which mapping failed; folded first, the model maps
    and its build matches ONNX Runtime on the original graph."""
    from tvm.relax.frontend.onnx import from_onnx

    from autotune.model.kernels import splice
    from autotune.model.onnx_import import shapes_folded

    model = load_onnx(shuffle_model(tmp_path / "shuffle.onnx"))
    with pytest.raises(ModelError, match="TVM cannot fold the model's constants: "):
        map_workloads(from_onnx(model.proto))  # unfolded: a one-line error, not a traceback
    assert "Shape" not in {n.op_type for n in shapes_folded(model.proto).graph.node}
    plain = load_onnx(conv_model(tmp_path / "c.onnx", [1] * 4, [1, 2, 8, 8])).proto
    assert shapes_folded(plain) is plain  # nothing to fold: the graph as it was
    mod = model.relax_module()
    mapping = map_workloads(mod)
    assert [w.key for w in mapping.workloads] == [
        "conv2d-n1-c4-h8-w8-k8-kh3-kw3-s1x1-p1x1-d1x1-g1-float32",
        "conv2d-n1-c4-h8-w8-k4-kh1-kw1-s1x1-p0x0-d1x1-g1-erelu-float32"]
    assert_spliced_build_matches_onnxruntime(
        model, splice(mod, {w: w.prim_func() for w in mapping.workloads}))


def test_a_blocked_variants_constant_weights_are_packed_once_at_build(tmp_path):
    from autotune.measure.prepack import split
    from autotune.model.build import run_executable
    from autotune.model.glue import schedule_glue
    from autotune.model.kernels import splice

    model = load_onnx(epilogue_model(tmp_path / "ep.onnx"))
    mod = model.relax_module()
    plans = {}
    for wl in map_workloads(mod).workloads:
        (blocked,) = [v for v in wl.variants() if v.kernel == "conv2d_nchwc"]
        plans[wl] = split(blocked, tvm.IRModule({"main": blocked.prim_func()}))
        assert plans[wl] is not None
    spliced = splice(mod, plans)
    packs = [gv.name_hint for gv, _ in spliced.functions_items() if gv.name_hint.endswith("_pack")]
    assert len(packs) == 2  # the two 1x1 convs' weights pack alike: one function
    assert spliced["main"].script().count("_pack, (metadata") == 3  # a call per conv
    target = resolve_target("cpu")
    built = schedule_glue(spliced, target)
    assert not any(name in built["main"].script() for name in packs)  # folded into constants
    x = model.random_inputs(seed=0)
    want = onnxruntime_ref.run(onnxruntime_ref.session(model, 1), model, x)
    got = run_executable(tvm.compile(built, target=target), model, x, tvm.cpu())
    assert onnxruntime_ref.mismatch(got, want) is None


def test_unmappable_conv_is_left_to_tvm_with_its_reason(workers, tmp_path):
    model = load_onnx(conv_model(tmp_path / "asym.onnx", [0, 1, 1, 0], [1, 2, 7, 7]))
    mapping = map_workloads(model.relax_module())
    assert mapping.workloads == []
    assert mapping.skipped == ["relax.nn.conv2d: asymmetric padding [0, 1, 1, 0]"]
    with pytest.raises(ModelError, match="no conv2d or matmul to tune.*asymmetric padding"):
        tune_model(model, "cpu", 4, tmp_path / "logs", progress=False, workers=workers)
    # Built with TVM's own conv, still checked against ONNX Runtime.
    out = build_model(model, "cpu", tmp_path / "logs", tmp_path / "pkg")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kernels"] == [] and manifest["onnxruntime_check"]["checked"]


def test_bad_models_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="no ONNX model at"):
        load_onnx(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelError, match="is not a valid ONNX model"):
        load_onnx(tmp_path / "junk.onnx")
    dynamic = conv_model(tmp_path / "dyn.onnx", [1, 1, 1, 1], ["batch", 2, 8, 8],
                         dims=["batch", 3, 8, 8])
    with pytest.raises(ModelError, match="x has a dynamic dimension batch"):
        load_onnx(dynamic)


def test_onnxruntime_mismatch_names_the_output():
    want = [np.ones((2, 3), np.float32)]
    assert onnxruntime_ref.mismatch([want[0] + 1e-6], want) is None
    assert "max abs error 0.5" in onnxruntime_ref.mismatch([want[0] + 0.5], want)
    assert "has shape (3,)" in onnxruntime_ref.mismatch([np.ones(3)], want)


def test_onnxruntime_check_is_relative_to_the_outputs_magnitude():
    tiny = [np.full((2, 3), 3e-9, np.float32)]
    assert onnxruntime_ref.mismatch([tiny[0] * 1.0001], tiny) is None
    assert "max |ref| 3e-09" in onnxruntime_ref.mismatch([tiny[0] * 2], tiny)
    summary = onnxruntime_ref.error_summary([tiny[0] * 2], tiny)
    assert summary["max_abs_ref"] == pytest.approx(3e-9)
    assert summary["rel_error"] == pytest.approx(1.0, rel=1e-3)
    assert "relative 1" in onnxruntime_ref.describe(summary)
    zeros = [np.zeros(4, np.float32)]
    assert onnxruntime_ref.mismatch(zeros, zeros) is None
    assert onnxruntime_ref.mismatch([zeros[0] + 1e-20], zeros) is not None
    assert onnxruntime_ref.mismatch([np.full(4, np.nan, np.float32)], zeros) is not None


MODEL_USER = textwrap.dedent("""
    import sys, numpy as np
    from autotune.model.package import load_model_package
    pkg = load_model_package(sys.argv[1])
    tuning = [m for m in sys.modules if m.startswith(("autotune.search.tune", "autotune.measure.validate",
              "autotune.deploy.export", "autotune.model.build", "autotune.model.tune", "onnx"))]
    assert not tuning, tuning
    x = np.load(sys.argv[2])
    np.save(sys.argv[3], pkg(x)[0])
""")


@pytest.mark.tuning
def test_tune_build_load_compare(workers, tiny, tmp_path):
    logs = tmp_path / "logs"
    with pytest.raises(LogError, match="gemm-m1-n2-k3-float32; tune them first"):
        build_model(tiny, "cpu", logs, tmp_path / "nopkg")

    tuning = tune_model(tiny, "cpu", trials=5, log_dir=logs, progress=False, workers=workers,
                        search=SearchOptions(population=64, variants="none"))
    assert [r.workload for r in tuning.results] == TINY_KEYS
    assert all(r.validated for r in tuning.results)

    out = build_model(tiny, "cpu", logs, tmp_path / "pkg")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "model" and manifest["model"]["sha256"] == tiny.sha256
    assert [k["key"] for k in manifest["kernels"]] == TINY_KEYS
    assert all(k["schedule"] == "tuned" and k["validated"] for k in manifest["kernels"])
    assert manifest["onnxruntime_check"]["checked"]
    again = build_model(tiny, "cpu", logs, tmp_path / "pkg2")
    assert json.loads((again / "manifest.json").read_text())["sha256"] == manifest["sha256"]

    # A process that never tuned loads the package; its output matches ONNX Runtime.
    x = tiny.random_inputs(seed=7)
    np.save(tmp_path / "x.npy", x[0])
    subprocess.run([sys.executable, "-c", MODEL_USER, str(out), str(tmp_path / "x.npy"),
                    str(tmp_path / "y.npy")], check=True)
    want = onnxruntime_ref.run(onnxruntime_ref.session(tiny, 1), tiny, x)
    assert onnxruntime_ref.mismatch([np.load(tmp_path / "y.npy")], want) is None

    pkg = load_model_package(out)
    torch = pytest.importorskip("torch")
    got = pkg(torch.from_numpy(x[0]))  # DLPack-capable arrays are accepted
    assert onnxruntime_ref.mismatch(got, want) is None
    with pytest.raises(PackageError, match=r"input 'x' must be float32\[1, 3, 11, 9\]"):
        pkg(np.zeros((1, 3, 11, 8), np.float32))
    import autotune

    with pytest.raises(PackageError, match="holds a model"):
        autotune.load_package(out)

    # Where the time goes: every tuned kernel is one call per model call (of the package,
    # as of a build compiled here).
    from autotune.model.build import compile_model
    from autotune.model.profile import by_category, profile_onnxruntime, profile_tvm

    entries = pkg.manifest["kernels"]
    executable, compiled, _ = compile_model(tiny, resolve_target("cpu"), logs)
    assert compiled == entries
    assert pkg.tuned_symbols == [e["symbol"] for e in entries]  # every one tuned (above)
    assert pkg.tuning_seconds == {e["symbol"]: e["tuning_latency_s"] for e in entries}
    profile = profile_tvm(pkg.module, tiny, tvm.cpu(), pkg.tuned_symbols, runs=3)
    assert sorted(profile_tvm(executable, tiny, tvm.cpu(), runs=1)["part"]) == \
        sorted(profile["part"])
    kernels = profile[profile["category"] == "kernel"]
    assert sorted(kernels["part"]) == sorted(e["symbol"] for e in entries)
    assert (kernels["calls"] == 1).all() and (profile["us"] > 0).all()
    assert by_category(profile)["share"].sum() == pytest.approx(1.0)
    ort_profile = profile_onnxruntime(tiny, 1, tmp_path, runs=3)
    assert ort_profile.set_index("part").loc["Conv", "calls"] == 4
    assert ort_profile["share"].sum() == pytest.approx(1.0)

    for table in (compare_model(tiny, "cpu", logs),
                  compare_model(tiny, "cpu", tmp_path / "no-logs-needed", package=out)):
        assert list(table["implementation"]) == ["tvm-tuned", "tvm-untuned", "onnxruntime"]
        assert table["matches_onnxruntime"].all() and (table["median_us"] > 0).all()
        assert table["tuned_kernels"][0] == "5/5"
        rows = table.set_index("implementation")
        for impl in ("tvm-tuned", "tvm-untuned"):
            assert rows.loc[impl, "speedup_vs_onnxruntime"] == pytest.approx(
                rows.loc["onnxruntime", "median_us"] / rows.loc[impl, "median_us"])
    from click.testing import CliRunner

    from autotune.cli import cli

    shown = CliRunner().invoke(cli, ["model", "compare", str(tiny.path), "--package", str(out),
                                     "--out", str(tmp_path / "compare.csv")])
    assert shown.exit_code == 0, shown.output
    assert "tvm-tuned" in shown.output and "tuned kernels 5/5" in shown.output
    other = tmp_path / "other.onnx"
    import onnx

    proto = onnx.load(str(tiny.path))
    proto.doc_string = "another model"
    onnx.save(proto, str(other))
    with pytest.raises(ModelError, match="built from another model"):
        compare_model(other, "cpu", package=out)


def test_other_builds_are_timed_beside_the_tuned_one(tiny, tmp_path):
    from autotune.model.relax_tuning import relax_tuned_build

    # TVM's own pipeline with no trials: its fused functions, the database applied as it is.
    relax_build = relax_tuned_build(tiny, "cpu", 0, tmp_path / "relax")
    table = compare_model(tiny, "cpu", tmp_path / "logs", fallback="default",
                          others={"tvm-relax-tuned": relax_build})
    assert list(table["implementation"]) == \
        ["tvm-tuned", "tvm-untuned", "tvm-relax-tuned", "onnxruntime"]
    assert table["matches_onnxruntime"].all()
    assert (table["rel_error"] < 1e-3).all() and (table["max_abs_ref"] > 0).all()
    assert table["tuned_kernels"][0] == "0/5"


def test_a_conv_called_twice_counts_twice(tmp_path):
    w = numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Conv", ["h", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])], [w])
    import onnx

    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "twice.onnx"))
    mapping = map_workloads(load_onnx(tmp_path / "twice.onnx").relax_module())
    (conv,) = mapping.workloads
    assert mapping.counts == {conv: 2}


@pytest.mark.tuning
def test_a_models_pointwise_convs_are_tuned_blocked_and_as_a_gemm_not_in_nchw(workers, tmp_path):
    """The default "auto" policy: the 1x1 convs in blocks and over their flat pixels (their
    NCHW logs never made), the 3x3 conv in NCHW and in blocks; the build takes each
    workload's winner. (Whether a blocked kernel's weights are packed at build depends on
    the schedule the search found: a schedule that packs inside the conv's loops packs on
    every call; see the packing test above.)"""
    from autotune.hardware.target import target_key
    from autotune.measure.validate import WINNER

    model = load_onnx(epilogue_model(tmp_path / "ep.onnx"))
    logs = tmp_path / "logs"
    tuning = tune_model(model, "cpu", trials=8, log_dir=logs, progress=False, workers=workers,
                        search=SearchOptions(population=32, variants="auto"))
    by_key = {r.workload: r for r in tuning.results}
    assert all(r.validated for r in tuning.results)
    pointwise = [wl for wl in tuning.workloads if wl.params["kh"] == 1]
    assert len(pointwise) == 2
    folder = logs / target_key(resolve_target("cpu"))
    for wl in pointwise:
        tuned = wl.variants("auto")
        assert [v.kernel for v in tuned] == ["conv2d_nchwc", "conv2d_pw_nchw"]
        assert set(by_key[wl.key].variant_latency_s) == {v.key for v in tuned}
        assert by_key[wl.key].variant in {v.key for v in tuned}
        assert not (folder / wl.key / "meta.json").exists()  # no NCHW search
        assert json.loads((folder / wl.key / WINNER).read_text())["winner"] == \
            by_key[wl.key].variant
    (dense,) = [wl for wl in tuning.workloads if wl.params["kh"] == 3]
    assert set(by_key[dense.key].variant_latency_s) == {v.key for v in dense.variants("auto")}

    manifest = json.loads((build_model(model, "cpu", logs, tmp_path / "pkg") / "manifest.json")
                          .read_text())
    assert manifest["onnxruntime_check"]["checked"]
    entries = {k["key"]: k for k in manifest["kernels"]}
    for wl in pointwise:
        assert entries[wl.key]["variant"] == by_key[wl.key].variant
