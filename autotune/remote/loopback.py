"""A TVM RPC tracker and servers on 127.0.0.1, started with TVM's own entry points
(``python -m tvm.exec.rpc_tracker`` / ``rpc_server``): for tests and benchmarks of remote
measurement on one machine. Every process it starts is stopped by ``close``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from autotune.errors import RemoteError
from autotune.remote.tracker import Remote

START_TIMEOUT_S = 120.0  # a server imports TVM before it registers: seconds each


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackFleet:
    """A tracker and ``servers`` RPC servers under ``key``, each server with ``threads``
    threads (``TVM_NUM_THREADS``); its ``remote`` names them. Use it in a ``with`` block."""

    def __init__(self, servers: int = 2, key: str = "loopback", threads: int = 1,
                 log_dir: Path | None = None) -> None:
        self.key, self.threads, self.log_dir = key, threads, log_dir
        self.port = free_port()
        self.remote = Remote(f"127.0.0.1:{self.port}", key)
        self.tracker = self._start("tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                                   "--port", str(self.port), "--port-end", str(self.port + 1),
                                   name="tracker")
        self._wait(lambda: self._tracker_up())
        self.servers: list[subprocess.Popen] = []
        for _ in range(servers):
            self.add_server()

    def add_server(self) -> subprocess.Popen:
        """Start one more server and wait until the tracker lists it."""
        first = free_port()
        server = self._start("tvm.exec.rpc_server", "--tracker", f"127.0.0.1:{self.port}",
                             "--key", self.key, "--host", "127.0.0.1", "--port", str(first),
                             "--port-end", str(first + 50), name=f"server{len(self.servers)}")
        self.servers.append(server)
        want = len([s for s in self.servers if s.poll() is None])
        self._wait(lambda: self.remote.servers() >= want)
        return server

    def kill_server(self, index: int = 0) -> None:
        """Kill a server and the sessions it serves (its process group), as a crash would."""
        _kill(self.servers[index])

    def kill_tracker(self) -> None:
        """Kill the tracker and the process it serves from (its process group)."""
        _kill(self.tracker)

    def close(self) -> None:
        for proc in [*self.servers, self.tracker]:
            _kill(proc)

    def __enter__(self) -> LoopbackFleet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self, module: str, *args: str, name: str) -> subprocess.Popen:
        env = dict(os.environ, TVM_NUM_THREADS=str(self.threads))
        out = open(self.log_dir / f"{name}.log", "w") if self.log_dir else subprocess.DEVNULL  # noqa: SIM115
        return subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def _tracker_up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def _wait(self, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.tracker.poll() is not None:
                break
            try:
                if ready():
                    return
            except RemoteError:
                pass
            time.sleep(0.25)
        self.close()
        raise RemoteError(f"the loopback RPC fleet did not start within {START_TIMEOUT_S:g} s")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
