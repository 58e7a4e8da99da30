"""PyTorch on the CPU (oneDNN convolutions, its BLAS for GEMM): an optional extra.

Install with ``pip install torch==2.13.0`` (the CPU build). A conv's leading bias goes
to ``conv2d`` (oneDNN adds it in the conv); the rest of its epilogue runs as in-place ops. Tensors share memory with the
NumPy input sets; outputs are written in place where the operator takes ``out=``.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autotune.baselines.base import Baseline
from autotune.kernels.conv2d import epilogue_steps
from autotune.measure.protocol import Prepared
from autotune.workload import Workload


class TorchBaseline(Baseline):
    name = "torch"
    device = "cpu"
    kernels = frozenset({"conv2d", "gemm", "add", "fma", "sum", "softmax"})

    def unavailable(self) -> str | None:
        try:
            import torch  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        except ImportError:
            return "PyTorch is not installed (pip install torch==2.13.0 gives the CPU build)"
        return None

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        import torch  # pylint: disable=import-outside-toplevel

        spec = workload.output_spec
        tensors = [[torch.from_numpy(x) for x in inputs] for inputs in sets]
        outs = [torch.empty(spec.shape, dtype=getattr(torch, spec.dtype)) for _ in sets]
        results = list(outs)
        fn = _op(torch, workload)

        def call(i: int) -> None:
            results[i] = fn(*tensors[i], out=outs[i])

        return Prepared(
            calls=[partial(call, i) for i in range(len(sets))],
            output=lambda i: results[i].numpy(),
        )


def _op(torch, workload: Workload):
    """``fn(*inputs, out=tensor) -> tensor``; ops without ``out=`` return a new tensor."""
    p = workload.params
    functional = torch.nn.functional
    if workload.kernel == "conv2d":
        steps = epilogue_steps(p)

        def conv2d(x, w, *extra, out):
            extra = list(extra)
            bias = extra.pop(0) if steps[:1] == ["bias"] else None  # conv2d's own bias
            y = functional.conv2d(x, w, bias, stride=p["stride"], padding=p["padding"],
                                  dilation=p["dilation"], groups=p["groups"])
            for step in steps[1:] if bias is not None else steps:  # one in-place op each
                if step == "bias":
                    y.add_(extra.pop(0).view(1, -1, 1, 1))
                elif step == "add":
                    y.add_(extra.pop(0))
                elif step == "relu":
                    y.relu_()
                elif step == "relu6":
                    y.clamp_(0, 6)
                elif step == "silu":
                    functional.silu(y, inplace=True)
                elif step == "hardswish":
                    functional.hardswish(y, inplace=True)
            return y

        return conv2d
    return {
        "gemm": lambda a, b, out: torch.matmul(a, b, out=out),
        "add": lambda x, y, out: torch.add(x, y, out=out),
        "fma": lambda a, x, y, out: torch.addcmul(y, a, x, out=out),
        "sum": lambda x, out: torch.sum(x, dim=0, keepdim=True, out=out),
        "softmax": lambda x, out: torch.softmax(x, dim=1),
    }[workload.kernel]
