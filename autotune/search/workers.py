"""The processes a search builds and measures candidates in, kept warm across searches.

Starting them is most of what a small search costs (each worker imports TVM: seconds), so
a caller that runs several searches one after another (``bench`` over a suite, a test
session) passes one ``Workers`` to all of them. Every worker ends when ``close`` is called,
when the ``with`` block ends, or when this process ends, however it ends
(``builder.die_with_parent``).

Candidates are measured here, or with ``remote`` on the devices registered under a TVM RPC
tracker's key (``autotune.remote``): built here for the remote target, measured there
several at a time, and the chosen kernel checked and timed there too.
"""

from __future__ import annotations

import os
from functools import partial

import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.arg_info import ArgInfo

from autotune.hardware.target import resolve_target, target_threads
from autotune.measure.device import KernelDevice, LocalDevice
from autotune.measure.protocol import Protocol
from autotune.remote.tracker import Remote, remote_threads
from autotune.search.builder import WarmBuilder, die_with_parent
from autotune.search.evaluator import args_key, rotating_sets, time_rotating
from autotune.workload import Workload


class Workers:
    """A warm builder and a runner (local, or over RPC with ``remote``), started on first use."""

    def __init__(self, remote: Remote | None = None, protocol: Protocol = Protocol()) -> None:
        """``protocol``: its ``tuning_repeat`` samples of at least ``min_sample_s`` each
        rank a candidate (``Protocol.evaluator_config``)."""
        self.remote = remote
        self.protocol = protocol
        self._builder: WarmBuilder | None = None
        self._runner: ms.runner.PyRunner | None = None
        self._setting: tuple[int, str] | None = None  # the runner's threads and target kind
        # Which arguments are weights, by argument list (``share_weights``); sent to the
        # runner's process with every candidate.
        self.weights: dict[str, tuple[int, ...]] = {}

    def target(self, spec: str | dict | tvm.target.Target) -> tvm.target.Target:
        """The target whose kernels these workers measure: ``spec`` resolved, where ``cpu``
        with a remote means the remote device's CPU (as its server reports it)."""
        if self.remote is not None and isinstance(spec, str) and spec.strip() == "cpu":
            return self.remote.target()
        return resolve_target(spec)

    @property
    def device(self) -> KernelDevice:
        """Where the chosen kernels are checked and timed: where candidates are measured."""
        if self.remote is None:
            return LocalDevice()
        from autotune.remote.device import RemoteDevice  # pylint: disable=import-outside-toplevel

        return RemoteDevice(self.remote)

    @property
    def builder(self) -> WarmBuilder:
        if self._builder is None:
            self._builder = WarmBuilder()
        return self._builder

    def runner_for(self, target: tvm.target.Target) -> ms.runner.PyRunner:
        """The runner, measuring with the timing protocol's settings and ``target``'s threads:
        MetaSchedule's ``LocalRunner`` here (on a CPU timing each candidate as ``measure``
        does, its input sets rotating: ``autotune.search.evaluator``), ``RemoteRunner`` (its
        ``RPCRunner``, MetaSchedule's evaluator) remotely."""
        threads = target_threads(target) if self.remote is None else remote_threads(target)
        setting = (threads, target.kind.name)
        if self._runner is not None and self._setting != setting:
            self._close_runner()
        if self._runner is None:
            config = self.protocol.evaluator_config()
            initializer = partial(die_with_parent, os.getpid())
            if self.remote is None and target.kind.name == "llvm":
                self._runner = ms.runner.LocalRunner(
                    evaluator_config=config, initializer=initializer,
                    f_alloc_argument=partial(rotating_sets, self.protocol, self.weights),
                    f_run_evaluator=partial(time_rotating, self.protocol))
            elif self.remote is None:
                self._runner = ms.runner.LocalRunner(evaluator_config=config,
                                                     initializer=initializer)
            else:
                from autotune.remote.runner import RemoteRunner  # pylint: disable=import-outside-toplevel

                self._runner = RemoteRunner(self.remote, config, threads, initializer)
            self._setting = setting
        return self._runner

    def share_weights(self, workloads: list[Workload], target: tvm.target.Target) -> None:
        """Have the local runner time ``workloads`` with their weights (a conv's filter,
        ``Workload.weight_inputs``) one array in every input set, as ``measure`` does."""
        for wl in workloads:
            if wl.weight_inputs:
                info = ArgInfo.from_prim_func(wl.module(target)["main"])
                self.weights[args_key([arg.as_json() for arg in info])] = wl.weight_inputs

    def lost(self) -> str | None:
        """Why no further batch can be measured (remote devices all gone), or None."""
        lost = getattr(self._runner, "lost", None)
        return lost() if lost is not None else None

    def _close_runner(self) -> None:
        if isinstance(self._runner, ms.runner.LocalRunner):
            self._runner.pool.shutdown(wait=False)
        elif self._runner is not None:
            self._runner.shutdown()
        self._runner = None

    def close(self) -> None:
        """Stop every worker (new ones start on the next use)."""
        if self._builder is not None:
            self._builder.shutdown()
        self._close_runner()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
