"""Tuning through a real TVM RPC tracker and servers on 127.0.0.1 (TVM's own entry points),
with servers killed mid-run."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from click.testing import CliRunner

import autotune
from autotune.cli import cli
from autotune.errors import RemoteError
from autotune.logs.store import LogStore, record_seconds
from autotune.measure.compile import scheduled_module
from autotune.measure.validate import check_here
from autotune.remote import Remote
from autotune.remote.loopback import LoopbackFleet, free_port
from autotune.search.workers import Workers

pytestmark = pytest.mark.tuning

GEMM = dict(m=21, n=19, k=27)
SEARCH = autotune.SearchOptions(trials_per_iter=8, seed=3, population=32)
FAILED_S = 1e9  # MetaSchedule's run time for a candidate that could not be measured


def _records(log_dir, workload):
    (entry,) = [e for e in LogStore(log_dir).entries() if e.workload == workload]
    return entry, entry.database().get_all_tuning_records()


def _kill_after(fleet: LoopbackFleet, log_dir, records: int, servers: list[int]) -> threading.Thread:
    """Kill ``servers`` once the logs under ``log_dir`` hold ``records`` records."""

    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            files = list(log_dir.glob("*/*/database_tuning_record.json"))
            if files and sum(f.read_text().count("\n") for f in files) >= records:
                break
            time.sleep(0.1)
        for index in servers:
            fleet.kill_server(index)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_tuning_goes_on_when_one_of_two_servers_dies(tmp_path):
    wl = autotune.Workload("gemm", **GEMM)
    with LoopbackFleet(servers=2) as fleet, Workers(fleet.remote) as workers:
        killer = _kill_after(fleet, tmp_path, 8, [0])
        result = autotune.tune(wl, "cpu", trials=24, log_dir=tmp_path, progress=False,
                               search=SEARCH, workers=workers)
        killer.join()
        assert fleet.remote.servers() == 1
    assert result.trials_run == 24
    assert result.validated and result.latency_s > 0
    entry, records = _records(tmp_path, wl)
    assert len(records) == 24  # every candidate has a record, measured or failed
    measured = [r for r in records if record_seconds(r) < FAILED_S]
    assert len(measured) >= 24 - 8  # at most the batch in flight was lost with the server
    # The target is the remote CPU with the servers' one thread, and the chosen kernel
    # computes the right result here too.
    assert int(entry.target.attrs["num-cores"]) == 1
    best = min(measured, key=record_seconds)
    assert check_here(scheduled_module(wl, best), wl, entry.target) is None


def test_the_run_stops_with_one_line_when_no_server_is_left(tmp_path):
    wl = autotune.Workload("gemm", **GEMM)
    with LoopbackFleet(servers=1) as fleet, Workers(fleet.remote) as workers:
        target = workers.target("cpu")
        killer = _kill_after(fleet, tmp_path, 8, [0])
        with pytest.raises(RemoteError) as raised:
            autotune.tune(wl, target, trials=64, log_dir=tmp_path, progress=False,
                          search=SEARCH, workers=workers)
        killer.join()
    message = str(raised.value)
    assert "\n" not in message and "no RPC server is left" in message
    assert "kept in the log" in message
    _, records = _records(tmp_path, wl)
    assert 8 <= len(records) < 64  # the batches measured before are all kept


def test_a_tracker_that_goes_away_ends_the_run_with_one_line(tmp_path):
    wl = autotune.Workload("gemm", **GEMM)
    with LoopbackFleet(servers=1) as fleet, Workers(fleet.remote) as workers:
        target = workers.target("cpu")
        def kill_tracker() -> None:
            while not any(f.read_text().count("\n") >= 8
                          for f in tmp_path.glob("*/*/database_tuning_record.json")):
                time.sleep(0.1)
            fleet.kill_tracker()

        threading.Thread(target=kill_tracker, daemon=True).start()
        with pytest.raises(RemoteError) as raised:
            autotune.tune(wl, target, trials=64, log_dir=tmp_path, progress=False,
                          search=SEARCH, workers=workers)
    message = str(raised.value)
    assert "\n" not in message and "tracker" in message and "kept in the log" in message
    _, records = _records(tmp_path, wl)
    assert 8 <= len(records) < 64


def test_an_unreachable_tracker_is_one_line_at_once():
    remote = Remote(f"127.0.0.1:{free_port()}", "nobody", connect_timeout_s=2)
    started = time.monotonic()
    with pytest.raises(RemoteError, match="cannot be reached"):
        remote.require_servers()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("address", ["", "host:", "host:port", ":9190", "h:70000"])
def test_a_malformed_tracker_address_is_refused(address):
    with pytest.raises(RemoteError, match="HOST:PORT"):
        Remote(address, "key")


def test_rpc_and_key_go_together_on_the_command_line():
    result = CliRunner().invoke(cli, ["tune", "gemm", "m=4", "n=4", "k=4", "--rpc",
                                      "127.0.0.1:9190"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --rpc and --rpc-key go together: the tracker's HOST:PORT and the key its "
        "servers registered under"]


def test_bench_through_rpc_times_tvm_kernels_on_the_remote_device(tmp_path):
    suite = tmp_path / "one.toml"
    suite.write_text('name = "one-gemm"\ntrials = 8\n\n[[workload]]\nkernel = "gemm"\n'
                     'm = 9\nn = 10\nk = 11\n')
    with LoopbackFleet(servers=1) as fleet:
        result = CliRunner().invoke(cli, [
            "bench", str(suite), "--rpc", fleet.remote.tracker, "--rpc-key", fleet.remote.key,
            "--log-dir", str(tmp_path / "logs"), "--out", str(tmp_path / "out"),
            "--trials-per-iter", "8", "--seed", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "skipped baseline every library: the kernels ran on remote devices" in result.output
    (table,) = (tmp_path / "out").glob("llvm-*-1c-*/one-gemm.csv")
    rows = pd.read_csv(table).set_index("implementation")
    assert set(rows.index) == {"tvm-tuned", "tvm-untuned"}
    assert rows["correct"].all() and rows.loc["tvm-tuned", "validated"]
    assert rows["timed"].str.startswith("remote device").all()
    assert (rows["median_us"] > 0).all()
