"""Check and time a chosen kernel on a remote device: a kernel is never validated on a
machine it was not measured on."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import tvm

from autotune.deploy.linker import linker_for
from autotune.errors import RemoteError, first_line
from autotune.measure.alignment import compile_kernels
from autotune.measure.protocol import Protocol, Timing
from autotune.remote.runner import size_pool
from autotune.remote.tracker import Remote, remote_threads
from autotune.workload import Workload

LIBRARY = "autotune_kernel.so"


class RemoteDevice:
    """One of the devices registered under a ``Remote``'s key (the tracker picks it)."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def require(self, target: tvm.target.Target) -> None:
        self.remote.require_servers()

    def check(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target) -> str | None:
        inputs = workload.make_inputs(1)
        with self.loaded(mod, target) as (rt_mod, dev):
            spec = workload.output_spec
            out = tvm.runtime.tensor(np.zeros(spec.shape, spec.dtype), dev)
            rt_mod["main"](*[tvm.runtime.tensor(x, dev) for x in inputs], out)
            result = out.numpy()
        return workload.check(result, inputs)

    def time(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target,
             protocol: Protocol) -> Timing:
        """TVM's ``time_evaluator`` on the device: ``protocol.repeat`` samples of at least
        ``protocol.min_sample_s`` each, on one input set (no rotation through sets)."""
        spec = workload.output_spec
        with self.loaded(mod, target) as (rt_mod, dev):
            args = [tvm.runtime.tensor(x, dev) for x in workload.make_inputs(0)]
            args.append(tvm.runtime.empty(spec.shape, spec.dtype, dev))
            timer = rt_mod.time_evaluator(
                "main", dev, number=1, repeat=protocol.repeat,
                min_repeat_ms=max(1, round(protocol.min_sample_s * 1000)))
            samples = list(timer(*args).results)
        return Timing.from_samples(samples)

    def timer(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target,
              protocol: Protocol) -> Callable[[], Timing]:
        """``time``, uploading and loading ``mod`` on each call (a remote session is not
        kept open between calls)."""
        return partial(self.time, mod, workload, target, protocol)

    @contextmanager
    def loaded(self, mod: tvm.IRModule, target: tvm.target.Target
               ) -> Iterator[tuple[tvm.runtime.Module, tvm.runtime.Device]]:
        """The compiled ``mod`` loaded on a device, whose thread pool has the target's cores."""
        with tempfile.TemporaryDirectory(prefix="autotune-remote-") as scratch:
            path = Path(scratch) / LIBRARY
            compile_kernels(mod, target).mod.export_library(str(path),
                                                            fcompile=linker_for(target))
            sess = self.remote.session()
            try:
                size_pool(sess, remote_threads(target))
                sess.upload(str(path))
                rt_mod = sess.load_module(LIBRARY)
            except Exception as err:  # pylint: disable=broad-except
                raise RemoteError(f"the kernel could not be loaded on {self.remote}: "
                                  f"{first_line(err)}") from None
        try:
            yield rt_mod, sess.cpu(0) if target.kind.name == "llvm" else sess.device(target.kind.name, 0)
        finally:
            try:
                sess.remove(LIBRARY)
            except Exception:  # pylint: disable=broad-except  # the server may be gone
                pass
