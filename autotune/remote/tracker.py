"""The devices registered with a TVM RPC tracker under one key."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import tvm
from tvm import rpc
from tvm.s_tir.meta_schedule.runner import RPCConfig

from autotune.errors import RemoteError, TargetError, first_line

DEFAULT_PORT = 9190  # TVM's tracker default


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
        host, sep, port = self.tracker.rpartition(":")
        if not sep:
            host, port = self.tracker, str(DEFAULT_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RemoteError(f"tracker address {self.tracker!r} is not HOST:PORT")
        if not self.key or any(c.isspace() for c in self.key):
            raise RemoteError(f"RPC key {self.key!r} must be a non-empty word")
        if self.session_timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise RemoteError("RPC time-outs must be positive")

    @property
    def host(self) -> str:
        return self.tracker.rpartition(":")[0] or self.tracker

    @property
    def port(self) -> int:
        host, sep, port = self.tracker.rpartition(":")
        return int(port) if sep else DEFAULT_PORT

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
        except OSError as err:
            raise RemoteError(f"the RPC tracker at {self.host}:{self.port} cannot be reached "
                              f"({err.strerror or err}); check it with: python -m "
                              f"tvm.exec.query_rpc_tracker --host {self.host} "
                              f"--port {self.port}") from None
        found: list = []

        def connect() -> None:
            try:
                found.append(rpc.connect_tracker(self.host, self.port))
            except Exception as err:  # pylint: disable=broad-except  # reported below
                found.append(err)

        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(self.connect_timeout_s)
        if not found or isinstance(found[0], Exception):
            why = first_line(found[0]) if found else f"no answer in {self.connect_timeout_s:g} s"
            raise RemoteError(f"the RPC tracker at {self.host}:{self.port} cannot be reached "
                              f"({why}); check it with: python -m tvm.exec.query_rpc_tracker "
                              f"--host {self.host} --port {self.port}")
        return found[0]

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

    def session(self) -> rpc.RPCSession:
        """A session with one of the devices (the tracker picks a free one)."""
        self.require_servers()
        try:
            return self.connect_tracker().request(
                self.key, priority=1, session_timeout=self.session_timeout_s)
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
