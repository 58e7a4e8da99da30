"""cuDNN convolution through NVIDIA's cuDNN Frontend (``nvidia-cudnn-frontend``) on CuPy arrays.

CuPy 14 dropped its own cuDNN wrappers; the Frontend's graph API builds a ``conv_fprop``
graph in the workload's dtype, accumulating in float32 (groups follow from the filter's
channel count). Like PyTorch's
``cudnn.benchmark``, every execution plan cuDNN offers for the shape is timed once and the
fastest is used, so the baseline is cuDNN at its best, not at its first heuristic guess.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autotune.baselines.base import Baseline
from autotune.hardware.cuda import EventClock, cupy, cupy_reason
from autotune.measure.protocol import Prepared, Protocol, measure
from autotune.workload import Workload

_PLAN_PROTOCOL = Protocol(repeat=3, min_sample_s=0.002, warmup_s=0.0, max_sets=1)


class CudnnBaseline(Baseline):
    name = "cudnn"
    device = "cuda"
    kernels = frozenset({"conv2d"})
    dtypes = ("float32", "float16")

    def supports(self, workload: Workload) -> bool:
        return (workload.kernel in self.kernels and workload.params["dtype"] in self.dtypes
                and not workload.params["epilogue"])  # its graph here is the conv alone

    def unavailable(self) -> str | None:
        reason = cupy_reason()
        if reason:
            return reason
        try:
            import cudnn  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        except ImportError:
            return "cuDNN Frontend is not installed (pip install nvidia-cudnn-frontend)"
        except Exception as err:  # e.g. libcudnn missing
            return f"cuDNN Frontend cannot load: {type(err).__name__}: {err}"
        return None

    def prepare(self, workload: Workload, sets: list[list[np.ndarray]]) -> Prepared:
        import cudnn  # pylint: disable=import-outside-toplevel

        cp = cupy()
        graph, tensors = _conv_graph(cudnn, workload)
        spec = workload.output_spec
        inputs = [[cp.asarray(x) for x in arrays] for arrays in sets]
        outs = [cp.empty(spec.shape, spec.dtype) for _ in sets]
        packs = [{t: a.data.ptr for t, a in zip(tensors, [*x, out])}
                 for x, out in zip(inputs, outs)]
        plans = graph.get_execution_plan_count()
        workspace = cp.empty(max(_workspace_sizes(graph, plans), default=0), np.uint8)

        def run(plan: int, i: int) -> None:
            graph.execute_plan_at_index(packs[i], workspace.data.ptr, plan)

        plan = _fastest_plan(plans, run, outs)
        return Prepared(
            calls=[partial(run, plan, i) for i in range(len(sets))],
            output=lambda i: cp.asnumpy(outs[i]),
            clock=EventClock(),
        )


def _conv_graph(cudnn, workload: Workload):
    """A built conv_fprop graph for ``workload`` and its (x, w, y) tensors."""
    p = workload.params
    x_spec, w_spec = workload.input_specs
    f32 = cudnn.data_type.FLOAT
    io = {"float32": f32, "float16": cudnn.data_type.HALF}[p["dtype"]]
    graph = cudnn.pygraph(io_data_type=io, intermediate_data_type=f32, compute_data_type=f32)
    x = graph.tensor(name="x", dim=list(x_spec.shape), stride=_packed(x_spec.shape), data_type=io)
    w = graph.tensor(name="w", dim=list(w_spec.shape), stride=_packed(w_spec.shape), data_type=io)
    y = graph.conv_fprop(image=x, weight=w, padding=list(p["padding"]), stride=list(p["stride"]),
                         dilation=list(p["dilation"]), compute_data_type=f32, name="conv")
    out_shape = workload.output_spec.shape
    y.set_output(True).set_dim(list(out_shape)).set_stride(_packed(out_shape)).set_data_type(io)
    graph.validate()
    graph.build_operation_graph()
    graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
    graph.check_support()
    graph.build_plans(cudnn.build_plan_policy.ALL)
    return graph, (x, w, y)


def _workspace_sizes(graph, plans: int) -> list[int]:
    sizes = []
    for i in range(plans):
        try:
            sizes.append(graph.get_workspace_size_plan_at_index(i))
        except Exception:  # a plan that did not build; it fails again when timed
            continue
    return sizes


def _packed(shape) -> list[int]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return strides[::-1]


def _fastest_plan(plans: int, run, outs) -> int:
    """Index of the execution plan with the shortest quick timing (plans that fail are skipped)."""
    times = {}
    for plan in range(plans):
        try:
            prepared = Prepared([partial(run, plan, 0)], lambda i: outs[0], EventClock())
            times[plan] = measure(prepared, _PLAN_PROTOCOL).median
        except Exception:  # some engines reject a shape only at run time
            continue
    if not times:
        raise RuntimeError("cuDNN built no execution plan that runs this convolution")
    return min(times, key=times.get)
