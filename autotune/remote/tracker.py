"""The devices registered with a TVM RPC tracker under one key."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import tvm
from tvm import rpc
from tvm.s_tir.meta_schedule.runner import RPCConfig

from autotune.errors import RemoteError, TargetError, first_line

DEFAULT_PORT = 9190  # TVM's tracker default
POLL_S = 2.0  # how often a request waiting for a busy device asks whether any is left


@dataclass(frozen=True)
class Remote:
    """Devices registered under ``key`` with the TVM RPC tracker at ``tracker``
    (``host:port``, as ``python -m tvm.exec.rpc_tracker`` listens).

    ``session_timeout_s``: a server ends a session (one candidate: upload, load, measure)
    after this long, so a hung kernel costs one candidate. ``connect_timeout_s``: how long a
    tracker may take to answer.
    """

    tracker: str
    key: str
    session_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        host, port = _split(self.tracker)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RemoteError(f"tracker address {self.tracker!r} is not HOST:PORT")
        if not self.key or any(c.isspace() for c in self.key):
            raise RemoteError(f"RPC key {self.key!r} must be a non-empty word")
        if self.session_timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise RemoteError("RPC time-outs must be positive")

    @property
    def host(self) -> str:
        return _split(self.tracker)[0]

    @property
    def port(self) -> int:
        return int(_split(self.tracker)[1])

    def __str__(self) -> str:
        return f"key {self.key!r} at tracker {self.host}:{self.port}"

    def rpc_config(self) -> RPCConfig:
        """MetaSchedule's settings for sessions with these devices."""
        return RPCConfig(tracker_host=self.host, tracker_port=self.port, tracker_key=self.key,
                         session_timeout_sec=int(max(1, round(self.session_timeout_s))))

    def connect_tracker(self) -> rpc.TrackerSession:
        """A session with the tracker, or RemoteError within ``connect_timeout_s``."""
        try:  # TVM's client retries a refused connection for a minute: ask once first
            socket.create_connection((self.host, self.port), self.connect_timeout_s).close()
            return _waited(lambda: rpc.connect_tracker(self.host, self.port),
                           self.connect_timeout_s,
                           lambda: self._unreachable(f"no answer in {self.connect_timeout_s:g} s"))
        except OSError as err:
            self._unreachable(err.strerror or str(err))
        except RemoteError:
            raise
        except Exception as err:  # pylint: disable=broad-except  # TVM's own errors
            self._unreachable(first_line(err))

    def _unreachable(self, why: str) -> NoReturn:
        raise RemoteError(f"the RPC tracker at {self.host}:{self.port} cannot be reached "
                          f"({why}); check it with: python -m tvm.exec.query_rpc_tracker "
                          f"--host {self.host} --port {self.port}") from None

    def servers(self) -> int:
        """Servers registered under the key now (RemoteError if the tracker is gone)."""
        try:
            summary = self.connect_tracker().summary()
        except RemoteError:
            raise
        except Exception as err:  # pylint: disable=broad-except  # the tracker went away
            raise RemoteError(f"the RPC tracker at {self.host}:{self.port} stopped answering "
                              f"({first_line(err)})") from None
        return sum(1 for item in summary.get("server_info", [])
                   if str(item.get("key", "")).partition(":")[2] == self.key)

    def require_servers(self) -> int:
        """The number of servers under the key; RemoteError if there is none."""
        count = self.servers()
        if count == 0:
            raise RemoteError(f"no RPC server is registered under {self}; start one with: "
                              f"python -m tvm.exec.rpc_server --tracker {self.host}:{self.port} "
                              f"--key {self.key}")
        return count

    def missing(self) -> str | None:
        """Why no device can be had now (no server left, the tracker gone), or None."""
        try:
            return None if self.servers() else f"no RPC server is left under {self}"
        except RemoteError as err:
            return str(err)

    def session(self) -> rpc.RPCSession:
        """A session with a free device (the tracker picks it), waiting while all are busy;
        RemoteError once none is registered any more (a request for a key without servers
        would wait at the tracker forever)."""

        def give_up() -> None:
            why = self.missing()
            if why is not None:
                raise RemoteError(why)

        try:
            return _waited(lambda: self.connect_tracker().request(
                self.key, priority=1, session_timeout=self.session_timeout_s),
                POLL_S, give_up)
        except RemoteError:
            raise
        except Exception as err:  # pylint: disable=broad-except
            raise RemoteError(f"no session with {self}: {first_line(err)}") from None

    def target(self, cores: int | None = None) -> tvm.target.Target:
        """The remote CPU as LLVM sees it there (its triple and ``mcpu``), with ``cores``
        threads (None: the size of the server's thread pool)."""
        sess = self.session()
        try:
            ask = sess.get_function
            triple, mcpu = str(ask("target.llvm_get_system_triple")()), \
                str(ask("target.llvm_get_system_cpu")())
            threads = cores or int(ask("runtime.NumThreads")())
        except Exception as err:  # pylint: disable=broad-except
            raise TargetError(f"cannot ask the RPC server under {self} for its CPU "
                              f"({first_line(err)}): give --target as JSON") from None
        return tvm.target.Target({"kind": "llvm", "mtriple": triple, "mcpu": mcpu,
                                  "num-cores": threads})


def remote_threads(target: tvm.target.Target) -> int:
    """The threads a remote session runs ``target``'s kernels with: its ``num-cores``
    (0: the size of the server's own pool)."""
    return int((target.host or target).attrs.get("num-cores") or 0)


def _split(address: str) -> tuple[str, str]:
    """``host:port`` as (host, port); a bare host is on TVM's default tracker port."""
    host, sep, port = address.rpartition(":")
    return (host, port) if sep else (address, str(DEFAULT_PORT))


def _waited(call: Callable[[], Any], poll_s: float, check: Callable[[], None]) -> Any:
    """``call()`` in a thread of its own (TVM's RPC calls can block for good): its result,
    or its error; every ``poll_s`` it is still running, ``check()`` may raise instead."""
    found: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            found.append((True, call()))
        except Exception as err:  # pylint: disable=broad-except  # raised by the caller
            found.append((False, err))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while True:
        thread.join(poll_s)
        if found:
            done, value = found[0]
            if done:
                return value
            raise value
        check()
