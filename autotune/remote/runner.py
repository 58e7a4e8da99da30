"""MetaSchedule's ``RPCRunner`` for the devices of a ``Remote``, with the faults of a fleet
handled: a candidate whose server dies or hangs is a failed measurement (never "best"),
the rest of the batch goes to the servers left, and once none is left the search stops
after the batch in flight (``RemoteRunner.lost``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.runner import (
    EvaluatorConfig,
    PyRunner,
    RPCConfig,
    RPCRunner,
    RunnerFuture,
    RunnerInput,
)
from tvm.s_tir.meta_schedule.runner.rpc_runner import default_run_evaluator

from autotune.remote.tracker import Remote

AFFINITY_DEFAULT = 1  # runtime.config_threadpool's mode that TVM's own pool starts with


def open_session(remote: Remote, _config: RPCConfig):
    """``RPCRunner``'s session maker: ``Remote.session`` (which gives up once no server is
    left, where MetaSchedule's own would wait at the tracker forever)."""
    return remote.session()


def size_pool(session, threads: int) -> None:
    """Give the session's thread pool ``threads`` threads (0: the server's own count); each
    session runs in a fresh server process, with the server's default pool."""
    session.get_function("runtime.config_threadpool")(AFFINITY_DEFAULT, threads)


def run_with_threads(threads: int, session, rt_mod, device, evaluator_config, repeated_args):
    """MetaSchedule's evaluator, on a pool of the target's ``threads`` (``size_pool``)."""
    size_pool(session, threads)
    return default_run_evaluator(session, rt_mod, device, evaluator_config, repeated_args)


@derived_object
class RemoteRunner(PyRunner):
    """Measures candidates on every server registered under ``remote``'s key, one session
    per candidate, as many at a time as there were servers when it started."""

    def __init__(self, remote: Remote, evaluator_config: EvaluatorConfig, threads: int,
                 initializer: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.remote = remote
        self.servers = remote.require_servers()
        self.rpc = RPCRunner(
            rpc_config=remote.rpc_config(), evaluator_config=evaluator_config,
            f_create_session=partial(open_session, remote),
            f_run_evaluator=partial(run_with_threads, threads),
            max_workers=self.servers, initializer=initializer)

    def run(self, runner_inputs: list[RunnerInput]) -> list[RunnerFuture]:
        return self.rpc.run(runner_inputs)

    def lost(self) -> str | None:
        """Why no further batch can be measured (no server left, the tracker gone), or None."""
        return self.remote.missing()

    def shutdown(self) -> None:
        self.rpc.pool.shutdown(wait=False)
