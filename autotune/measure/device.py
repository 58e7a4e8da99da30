"""Where a chosen kernel is checked against NumPy and timed: this machine (``LocalDevice``)
or a remote one (``autotune.remote.device.RemoteDevice``), by the same two calls."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from functools import partial
from typing import Protocol as Interface

import tvm

from autotune.hardware.target import device_for
from autotune.measure.compile import compile_module, prepare_module
from autotune.measure.protocol import Protocol, Timing, input_sets, measure
from autotune.measure.validate import check_here
from autotune.workload import Workload


class KernelDevice(Interface):
    """Runs compiled kernels for a target: checks them and times them."""

    def require(self, target: tvm.target.Target) -> None:
        """Raise a one-line error now if nothing can run ``target``'s kernels."""

    def check(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target) -> str | None:
        """None if the scheduled ``mod`` matches the NumPy reference, else why not."""

    def time(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target,
             protocol: Protocol) -> Timing:
        """Seconds per call of the scheduled ``mod``."""

    def timer(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target,
              protocol: Protocol) -> Callable[[], Timing]:
        """``time`` of ``mod`` as a call to repeat, with what can be prepared once done."""


class LocalDevice:
    """This machine's CPU or GPU."""

    def require(self, target: tvm.target.Target) -> None:
        device_for(target)

    def check(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target) -> str | None:
        return check_here(mod, workload, target)

    def time(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target,
             protocol: Protocol) -> Timing:
        return self.timer(mod, workload, target, protocol)()

    def timer(self, mod: tvm.IRModule, workload: Workload, target: tvm.target.Target,
              protocol: Protocol) -> Callable[[], Timing]:
        sets = input_sets(workload, protocol.sets_for(workload))
        rt_mod = compile_module(mod, target)
        return partial(measure, prepare_module(rt_mod, workload, sets, device_for(target)),
                       protocol)


def time_in_turns(timers: list[Callable[[], Timing]], rounds: int = 3) -> list[float]:
    """Each timer's median of its medians over ``rounds`` rounds, each round running every
    timer once, so that a slow spell of a shared host (seconds long, and up to 2x here:
    docs/benchmarks.md) falls on all of them alike instead of on whichever ran in it."""
    medians: list[list[float]] = [[] for _ in timers]
    for _ in range(rounds):
        for timer, found in zip(timers, medians):
            found.append(timer().median)
    return [statistics.median(found) for found in medians]
