"""MetaSchedule's ``RPCRunner`` for the devices of a ``Remote``, with the faults of a fleet
handled: a candidate whose server dies or hangs is a failed measurement (never "best"),
the rest of the batch goes to the servers left, and once none is left the search stops
after the batch in flight (``RemoteRunner.lost``)."""

from __future__ import annotations

import threading
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

from autotune.errors import RemoteError
from autotune.remote.tracker import Remote

POLL_S = 2.0  # how often a waiting candidate asks the tracker whether any server is left
AFFINITY_DEFAULT = 1  # runtime.config_threadpool's mode that TVM's own pool starts with


def open_session(remote: Remote, _config: RPCConfig):
    """A session with a free server under the key, waiting while all are busy; RemoteError
    once no server is registered any more (a request for a key without servers would wait
    at the tracker forever)."""
    found: list = []

    def request() -> None:
        try:
            found.append(remote.connect_tracker().request(
                remote.key, priority=1, session_timeout=remote.session_timeout_s))
        except Exception as err:  # pylint: disable=broad-except  # raised below
            found.append(err)

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    while True:
        thread.join(POLL_S)
        if found:
            if isinstance(found[0], Exception):
                raise found[0]
            return found[0]
        if remote.servers() == 0:
            raise RemoteError(f"no RPC server is left under {remote}")


def run_with_threads(threads: int, session, rt_mod, device, evaluator_config, repeated_args):
    """MetaSchedule's evaluator, after sizing the server's thread pool to the target's
    cores (each session runs in a fresh server process with the server's default pool)."""
    session.get_function("runtime.config_threadpool")(AFFINITY_DEFAULT, threads)
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
        try:
            if self.remote.servers() == 0:
                return f"no RPC server is left under {self.remote}"
        except RemoteError as err:
            return str(err)
        return None

    def shutdown(self) -> None:
        self.rpc.pool.shutdown(wait=False)
