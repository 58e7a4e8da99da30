"""ONNX Runtime on the CPU (its CPU provider, MLAS kernels): the library a user deploys.

Each workload is a small ONNX model built in memory: ``Conv``, ``MatMul``, ``Add``,
``Mul`` + ``Add`` (fma), ``ReduceSum``, ``Softmax``. Sessions run with ONNX Runtime's
default graph optimizations (which include its NCHWc layout transformer for convolutions),
the target's thread count for intra-op work and one inter-op thread. A convolution's
weights are constant initializers, as in a deployed model, so ONNX Runtime packs them once
when the session is made: one session per distinct weight array (the measurement's input
sets share one; separate sessions' spinning thread pools would compete for the cores).
Inputs and the preallocated outputs are bound to the session without copies
(``run_with_iobinding``).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autotune.baselines.base import Baseline
from autotune.hardware.threads import threads_in_use
from autotune.kernels.conv2d import epilogue_steps
from autotune.measure.protocol import Prepared
from autotune.workload import Workload

OPSET = 17
OUTPUT = "out"


class OnnxRuntimeBaseline(Baseline):
    name = "onnxruntime"
    device = "cpu"
    kernels = frozenset({"conv2d", "gemm", "add", "fma", "sum", "softmax"})

    def unavailable(self) -> str | None:
        try:
            import onnx  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
            import onnxruntime  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        except ImportError as err:
            return f"ONNX Runtime cannot be imported ({err}); pip install onnx onnxruntime"
        return None

    def constant_weights(self, workload: Workload) -> bool:
        return workload.kernel == "conv2d"

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        import onnxruntime as ort  # pylint: disable=import-outside-toplevel

        spec = workload.output_spec
        outs = [np.empty(spec.shape, spec.dtype) for _ in sets]
        constant = self.constant_weights(workload)
        sessions: dict[int, object] = {}
        bindings = []
        for inputs, out in zip(sets, outs):
            fixed = set(workload.weight_inputs) if constant else set()
            weights = [inputs[i] for i in sorted(fixed)]
            if tuple(map(id, weights)) not in sessions:
                sessions[tuple(map(id, weights))] = session(model_bytes(workload, weights),
                                                            threads_in_use())
            sess = sessions[tuple(map(id, weights))]
            feeds = [x for i, x in enumerate(inputs) if i not in fixed]
            binding = sess.io_binding()
            for name, array in zip(input_names(workload), feeds):
                binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(array))
            binding.bind_ortvalue_output(OUTPUT, ort.OrtValue.ortvalue_from_numpy(out))
            bindings.append((sess, binding))
        return Prepared(
            calls=[partial(s.run_with_iobinding, b) for s, b in bindings],
            output=lambda i: outs[i],
        )


def session(model: bytes, threads: int):
    """A CPU-provider inference session on ``threads`` intra-op threads."""
    import onnxruntime as ort  # pylint: disable=import-outside-toplevel

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initializers and the like: off
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def input_names(workload: Workload) -> list[str]:
    """The graph inputs fed at run time (a conv's weights and bias are initializers instead)."""
    if workload.kernel == "conv2d":
        return ["x", "r"] if "add" in epilogue_steps(workload.params) else ["x"]
    return {"gemm": ["a", "b"], "add": ["x", "y"], "fma": ["a", "x", "y"],
            "sum": ["x"], "softmax": ["x"]}[workload.kernel]


def model_bytes(workload: Workload, weights: list[np.ndarray]) -> bytes:
    """The serialised ONNX model of ``workload`` (output ``out``): one operator, or a conv
    and its epilogue as an exported network has them (Conv with bias, Add, Relu, Clip or
    Sigmoid and Mul),
    which ONNX Runtime's graph optimizer fuses into one conv where it can."""
    from onnx import helper, numpy_helper  # pylint: disable=import-outside-toplevel

    p = workload.params
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(p["dtype"]))
    fixed = workload.weight_inputs if workload.kernel == "conv2d" else ()
    specs = [s for i, s in enumerate(workload.input_specs) if i not in fixed]
    names = input_names(workload)
    inputs = [helper.make_tensor_value_info(n, elem, list(s.shape)) for n, s in zip(names, specs)]
    output = helper.make_tensor_value_info(OUTPUT, elem, list(workload.output_spec.shape))
    initializers = []
    if workload.kernel == "conv2d":
        nodes, initializers = _conv_nodes(p, weights)
    elif workload.kernel == "fma":
        nodes = [helper.make_node("Mul", ["a", "x"], ["ax"]), helper.make_node("Add", ["ax", "y"], [OUTPUT])]
    elif workload.kernel == "sum":
        initializers.append(numpy_helper.from_array(np.array([0], np.int64), "axes"))
        nodes = [helper.make_node("ReduceSum", ["x", "axes"], [OUTPUT], keepdims=1)]
    elif workload.kernel == "softmax":
        nodes = [helper.make_node("Softmax", ["x"], [OUTPUT], axis=1)]
    else:
        op = {"gemm": "MatMul", "add": "Add"}[workload.kernel]
        nodes = [helper.make_node(op, names, [OUTPUT])]
    graph = helper.make_graph(nodes, workload.symbol, inputs, [output], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every ONNX Runtime since 1.10
    return model.SerializeToString()


def _conv_nodes(p: dict, weights: list[np.ndarray]) -> tuple[list, list]:
    from onnx import helper, numpy_helper  # pylint: disable=import-outside-toplevel

    (ph, pw) = p["padding"]
    steps = epilogue_steps(p)
    initializers = [numpy_helper.from_array(np.ascontiguousarray(weights[0]), "w")]
    conv_inputs = ["x", "w"]
    if steps[:1] == ["bias"]:  # the Conv node's own bias input
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(weights[1]), "b"))
        conv_inputs.append("b")
        steps = steps[1:]
    nodes = [helper.make_node(
        "Conv", conv_inputs, ["y0"], kernel_shape=[p["kh"], p["kw"]],
        strides=list(p["stride"]), pads=[ph, pw, ph, pw], dilations=list(p["dilation"]),
        group=p["groups"])]
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(p["dtype"]))
    for i, step in enumerate(steps, start=1):
        src, dst = f"y{i - 1}", f"y{i}"
        if step == "add":
            nodes.append(helper.make_node("Add", [src, "r"], [dst]))
        elif step == "relu":
            nodes.append(helper.make_node("Relu", [src], [dst]))
        elif step == "relu6":
            for name, value in (("lo", 0), ("hi", 6)):
                initializers.append(helper.make_tensor(name, elem, [], [value]))
            nodes.append(helper.make_node("Clip", [src, "lo", "hi"], [dst]))
        elif step == "silu":  # as PyTorch exports it
            nodes.append(helper.make_node("Sigmoid", [src], [f"{dst}s"]))
            nodes.append(helper.make_node("Mul", [src, f"{dst}s"], [dst]))
        elif step == "hardswish":
            nodes.append(helper.make_node("HardSwish", [src], [dst]))
        else:  # bias after another step: broadcast over channels
            initializers.append(numpy_helper.from_array(
                np.ascontiguousarray(weights[1]).reshape(1, -1, 1, 1), "b4"))
            nodes.append(helper.make_node("Add", [src, "b4"], [dst]))
    nodes[-1].output[0] = OUTPUT
    return nodes, initializers
