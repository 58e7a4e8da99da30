"""Turn a workload (and optionally a tuning record) into a compiled, checked kernel."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from autotune.hardware.cuda import EventClock, cupy_reason
from autotune.hardware.target import device_for
from autotune.measure.alignment import compile_kernels, input_alignment
from autotune.measure.prepack import Prepack, split
from autotune.measure.protocol import Clock, Prepared, Protocol
from autotune.workload import Workload

if TYPE_CHECKING:
    from autotune.deploy.package import Kernel


def scheduled_module(workload: Workload, record: ms.database.TuningRecord | None) -> tvm.IRModule:
    """The workload with the record's schedule applied (in the form the template writes for
    the record's target); the generic form, untouched, when ``record`` is None."""
    mod = workload.module(record.target if record is not None else None)
    if record is None:
        return mod
    sch = tvm.s_tir.Schedule(mod)
    record.trace.apply_to_schedule(sch, remove_postproc=False)
    return sch.mod


def default_module(workload: Workload, target: tvm.target.Target) -> tvm.IRModule:
    """TVM's kernel without tuning: the template as written on CPUs; on GPUs, which cannot
    run an unscheduled loop nest, the template under dlight's default GPU schedules."""
    mod = workload.module(target)
    if target.kind.name == "llvm":
        return mod
    from tvm.s_tir import dlight as dl  # pylint: disable=import-outside-toplevel

    with target:
        return dl.ApplyDefaultSchedule(
            dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(), dl.gpu.GeneralReduction(),
            dl.gpu.Fallback(),
        )(mod)


def protocol_for(target: tvm.target.Target) -> Protocol:
    """The timing protocol for ``target``: on a GPU, input sets overflow the GPU's L2."""
    if target.kind.name == "llvm":
        return Protocol()
    l2 = device_for(target).l2_cache_size_bytes or 64 << 20
    return Protocol(flush_bytes=2 * l2)


def device_clock(dev) -> Clock:
    """CUDA events where CuPy can record them, else the wall clock after a device sync."""
    if dev.dlpack_device_type() == tvm.cpu().dlpack_device_type():
        return Clock()
    if dev.dlpack_device_type() == tvm.cuda().dlpack_device_type() and cupy_reason() is None:
        return EventClock()
    return DeviceClock(dev)


def compile_module(mod: tvm.IRModule, target: tvm.target.Target) -> tvm.runtime.Module:
    """Compile for ``target`` as packages are (``compile_kernels``); a runtime module with a
    ``main`` function."""
    return compile_kernels(mod, target).jit()


def run(
    rt_mod: tvm.runtime.Module, workload: Workload, inputs: list[np.ndarray], dev
) -> np.ndarray:
    """Call the kernel on NumPy inputs and return the output as NumPy."""
    args = [tvm.runtime.tensor(x, dev) for x in inputs]
    out_spec = workload.output_spec
    out = tvm.runtime.tensor(np.zeros(out_spec.shape, out_spec.dtype), dev)
    rt_mod["main"](*args, out)
    return out.numpy()


def check_numerics(
    rt_mod: tvm.runtime.Module, workload: Workload, target: tvm.target.Target, seed: int = 1
) -> str | None:
    """None if the kernel matches the NumPy reference on fresh random inputs, else why not."""
    inputs = workload.make_inputs(seed)
    return workload.check(run(rt_mod, workload, inputs, device_for(target)), inputs)


class DeviceClock(Clock):
    """Wall clock that first waits for the device's queued work (GPU kernels are async)."""

    def __init__(self, dev) -> None:
        self.dev = dev

    def start(self) -> None:
        self.dev.sync()
        super().start()

    def stop(self) -> float:
        self.dev.sync()
        return super().stop()


def call_kernel(rt_mod: tvm.runtime.Module, workload: Workload, target,
                plan: Prepack | None = None) -> "Kernel":
    """The compiled kernel behind a package's call path (``autotune.deploy.package.Kernel``); with
    ``plan``, ``rt_mod`` also holds its pack and packed functions, for ``Kernel.prepare``."""
    from autotune.deploy.package import Kernel  # pylint: disable=import-outside-toplevel

    entry = {"key": workload.key, "inputs": [s.to_json() for s in workload.input_specs],
             "output": workload.output_spec.to_json()}
    if plan is not None:
        entry.update(weights=[plan.weight], prepack=plan.entry("main"))
    return Kernel(rt_mod["main"], entry, device_for(target), input_alignment(target),
                  rt_mod.__getitem__)


def prepare_call(
    rt_mod: tvm.runtime.Module, workload: Workload, sets: list[list[np.ndarray]], target
) -> Prepared:
    """Bind a compiled kernel to input sets the way a package's user calls it.

    ``Kernel.__call__`` on the NumPy input arrays (on a GPU: device tensors, through DLPack),
    writing into a preallocated ``out=``, as the libraries it is compared with write into
    theirs (a new output array each call adds the allocation: ``scripts/bench_call.py``).
    """
    kernel = call_kernel(rt_mod, workload, target)
    dev = device_for(target)
    spec = workload.output_spec
    if target.kind.name == "llvm":
        args, outs = sets, [np.empty(spec.shape, spec.dtype) for _ in sets]
        output = outs.__getitem__
    else:
        args = [[tvm.runtime.tensor(x, dev) for x in inputs] for inputs in sets]
        outs = [tvm.runtime.empty(spec.shape, spec.dtype, dev) for _ in sets]
        output = lambda i: outs[i].numpy()  # noqa: E731
    return Prepared(calls=[partial(kernel, *a, out=o) for a, o in zip(args, outs)],
                    output=output, clock=device_clock(dev))


def prepare_packed_call(
    mod: tvm.IRModule, workload: Workload, sets: list[list[np.ndarray]], target
) -> Prepared | None:
    """Like ``prepare_call``, through ``Kernel.prepare``: the weights packed once (one
    prepared kernel per distinct weight array), each call running the kernel without its
    packing step. None where the kernel packs no weights (``autotune.measure.prepack``)."""
    plan = split(workload, mod) if target.kind.name == "llvm" else None
    if plan is None:
        return None
    functions = {"main": mod["main"].with_attr("global_symbol", "main"), **plan.functions("main")}
    kernel = call_kernel(compile_kernels(tvm.IRModule(functions), target).jit(), workload,
                         target, plan)
    by_weights = {}
    for inputs in sets:
        weights = inputs[plan.weight]
        if id(weights) not in by_weights:
            by_weights[id(weights)] = kernel.prepare(weights)
    spec = workload.output_spec
    outs = [np.empty(spec.shape, spec.dtype) for _ in sets]
    calls = [partial(by_weights[id(inputs[plan.weight])],
                     *inputs[:plan.weight], *inputs[plan.weight + 1:], out=out)
             for inputs, out in zip(sets, outs)]
    return Prepared(calls=calls, output=outs.__getitem__, clock=Clock())


def prepare_module(
    rt_mod: tvm.runtime.Module, workload: Workload, sets: list[list[np.ndarray]], dev
) -> Prepared:
    """Bind a compiled kernel to input sets on ``dev`` for ``measure``."""
    func = rt_mod["main"]
    spec = workload.output_spec
    args = [
        [tvm.runtime.tensor(x, dev) for x in inputs]
        + [tvm.runtime.empty(spec.shape, spec.dtype, dev)]
        for inputs in sets
    ]
    return Prepared(
        calls=[partial(func, *a) for a in args],
        output=lambda i: args[i][-1].numpy(),
        clock=device_clock(dev),
    )
