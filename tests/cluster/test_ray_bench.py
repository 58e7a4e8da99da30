"""A suite on a local Ray instance of two workers, one killed mid-run; and the merge of the
logs that come back."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

import autotune
from autotune.cluster.ray_suite import RayCluster
from autotune.cluster.snapshot import apply, take
from autotune.errors import AutotuneError
from autotune.logs.events import trials_done
from autotune.logs.store import LogStore

ray = pytest.importorskip("ray")

SEARCH = autotune.SearchOptions(trials_per_iter=8, seed=5, population=32)
SUITE = """
name = "two-gemms"
trials = 24

[[workload]]
kernel = "gemm"
m = 21
n = 19
k = 27

[[workload]]
kernel = "gemm"
m = 13
n = 33
k = 17
"""


@pytest.fixture(scope="module")
def local_ray():
    """A Ray instance on this machine with two CPUs: two tasks of one CPU at a time."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _records(log_dir) -> dict[str, int]:
    return {e.workload.key: len(e.database().get_all_tuning_records())
            for e in LogStore(log_dir).entries()}


def _kill_one_task_after(log_dir, records: int, workloads: int = 2
                         ) -> tuple[list[int], set[str]]:
    """Kill the worker process of one running workload (SIGKILL) once the driver's logs
    hold ``records`` records of each of ``workloads`` workloads; the list it returns gets
    the pid, the set every record line the driver's logs held then."""
    killed: list[int] = []
    kept: set[str] = set()

    def watch() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed:
            files = list(log_dir.glob("*/*/database_tuning_record.json"))
            if sum(f.read_text().count("\n") >= records for f in files) >= workloads:
                for proc in psutil.process_iter(["cmdline"]):
                    if "bench_item" in " ".join(proc.info["cmdline"] or []):
                        os.kill(proc.pid, signal.SIGKILL)
                        killed.append(proc.pid)
                        kept.update(line for f in files for line in f.read_text().splitlines())
                        return
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()
    return killed, kept


def _lines(log_dir) -> set[str]:
    return {line for f in log_dir.glob("*/*/database_tuning_record.json")
            for line in f.read_text().splitlines()}


@pytest.mark.tuning
def test_a_suite_on_two_ray_workers_survives_a_killed_worker(local_ray, tmp_path):
    suite = tmp_path / "two.toml"
    suite.write_text(SUITE)
    logs, out = tmp_path / "logs", tmp_path / "out"
    killed, kept = _kill_one_task_after(logs, 8)
    result = autotune.bench(suite, "cpu", log_dir=logs, out_dir=out, baselines=["numpy"],
                            progress=False, search=SEARCH,
                            cluster=RayCluster(None, cpus_per_task=1, retries=1))
    assert killed, "no worker was killed: the test proved nothing"
    tuned = result.results[result.results["implementation"] == "tvm-tuned"]
    assert len(tuned) == 2 and tuned["validated"].all()
    assert tuned["worker"].str.contains(":").all()
    for entry in LogStore(logs).entries():  # every workload reached its budget here
        assert trials_done(entry.path) >= 24
    assert kept and kept <= _lines(logs)  # nothing that came back before the kill is lost
    assert {p.name for p in result.files} >= {"two-gemms.csv", "two-gemms-curves.csv"}


@pytest.mark.tuning
def test_a_workload_whose_worker_dies_with_no_retry_is_one_line_and_kept(local_ray, tmp_path):
    suite = tmp_path / "two.toml"
    suite.write_text(SUITE.replace("trials = 24", "trials = 40"))
    logs = tmp_path / "logs"
    killed, kept = _kill_one_task_after(logs, 8)
    with pytest.raises(AutotuneError) as raised:
        autotune.bench(suite, "cpu", log_dir=logs, out_dir=tmp_path / "out",
                       baselines=["numpy"], progress=False, search=SEARCH,
                       cluster=RayCluster(None, cpus_per_task=1, retries=0))
    assert killed
    message = str(raised.value)
    assert "\n" not in message and "1 of 2 workloads did not finish" in message
    assert kept and kept <= _lines(logs)  # the batches that came back are kept
    assert sorted(trials_done(e.path) for e in LogStore(logs).entries())[1] >= 40


@pytest.mark.tuning
def test_logs_that_come_back_are_merged_once_and_per_target(tmp_path, cpu, workers):
    """What a worker sends back twice adds its records once; a worker with another CPU
    (here: another thread count) keeps a log of its own."""
    wl = autotune.Workload("gemm", m=5, n=6, k=7)
    search = autotune.SearchOptions(trials_per_iter=4, seed=1, population=8)
    one_core = dict(cpu.export(), **{"num-cores": 1})
    driver = tmp_path / "driver"
    for name, target in (("a", cpu), ("b", one_core)):
        autotune.tune(wl, target, trials=4, log_dir=tmp_path / name, progress=False,
                      workers=workers, search=search)
    snapshot = take(tmp_path / "a", [wl])
    assert apply(snapshot, driver) == apply(snapshot, driver)
    assert _records(driver) == {wl.key: 4}
    assert trials_done(LogStore(driver).path(wl, cpu)) == 4
    apply(take(tmp_path / "b", [wl]), driver)
    assert sorted(len(e.database().get_all_tuning_records())
                  for e in LogStore(driver).entries()) == [4, 4]


def test_a_winner_file_comes_back_even_where_the_workload_has_no_log(tmp_path, cpu):
    """Under "auto" a pointwise conv is tuned only blocked: its own folder holds nothing but
    the winner file, and that file comes back from the worker too."""
    from autotune.hardware.target import target_key
    from autotune.logs.store import WINNER

    wl = autotune.Workload("conv2d", n=1, c=32, h=7, w=7, k=64, kh=1, kw=1)
    worker, driver = tmp_path / "worker", tmp_path / "driver"
    folder = worker / target_key(cpu) / wl.key
    folder.mkdir(parents=True)
    (folder / WINNER).write_text('{"winner": "blocked", "latency_s": {"blocked": 1e-05}}')
    snapshot = take(worker, [wl])
    assert list(snapshot) == [f"{target_key(cpu)}/{wl.key}/{WINNER}"]
    apply(snapshot, driver)
    assert (driver / target_key(cpu) / wl.key / WINNER).read_bytes() == (folder / WINNER).read_bytes()
