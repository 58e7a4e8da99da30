"""A small ONNX model of unusual convolutions and a matmul, built with ``onnx.helper``.

For demos, tests and the model benchmark: nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZES = {
    # batch, channels, height, width, then the channels after each conv, then classes
    "tiny": (1, 3, 11, 9, 5, 4, 3, 2),
    "small": (1, 5, 96, 72, 37, 53, 29, 11),
}


def sample_model(path: str | Path, size: str = "small", seed: int = 0) -> Path:
    """Write the model to ``path``: strided conv+bias+ReLU, dilated depthwise conv, 5x1 conv,
    odd-channel 1x1 conv, global average pool and a matmul with bias."""
    import onnx  # pylint: disable=import-outside-toplevel
    from onnx import TensorProto, helper, numpy_helper  # pylint: disable=import-outside-toplevel

    n, c, h, w, k1, k2, k3, classes = SIZES[size]
    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int):
        fan_in = int(np.prod(shape[1:])) or 1
        data = rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
        return numpy_helper.from_array(data.astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], group=k1,
                         dilations=[2, 2], pads=[2, 2, 2, 2]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], kernel_shape=[5, 1], pads=[2, 0, 2, 0]),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("Conv", ["r3", "w4"], ["c4"], kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["c4"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w5"], ["logits"]),
        helper.make_node("Add", ["logits", "b5"], ["y"]),
    ]
    weights = [weight("w1", k1, c, 3, 3), weight("b1", k1), weight("w2", k1, 1, 3, 3),
               weight("w3", k2, k1, 5, 1), weight("w4", k3, k2, 1, 1),
               weight("w5", k3, classes), weight("b5", classes)]
    graph = helper.make_graph(
        nodes, f"autotune-sample-{size}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, classes])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="autotune")
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
