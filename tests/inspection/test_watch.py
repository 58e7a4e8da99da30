"""``autotune watch --once``: from events files alone, with or without events, while
another process writes them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import autotune
from autotune.cli import cli
from autotune.logs.store import LogStore
from autotune.report.watch import search_states, sparkline


def _log(tmp_path, cpu, events: list[dict] | None):
    wl = autotune.Workload("gemm", m=8, n=8, k=8)
    entry = LogStore(tmp_path).open(wl, cpu, create=True)
    if events is not None:
        (entry.path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return wl, entry.path


def _events(trials: int, end: bool, now: float) -> list[dict]:
    out = [{"event": "start", "planned": 8, "trials_before": 0, "time": now,
            "reference": {"library": "onnxruntime", "latency_s": 2e-6}}]
    for t in range(1, trials + 1):
        out.append({"event": "trial", "trial": t, "elapsed_s": t * 0.5,
                    "run_s": 4e-6 / t if t % 3 else None, "time": now})
    return out + ([{"event": "end", "trials": trials, "elapsed_s": trials * 0.5,
                    "time": now}] if end else [])


def test_once_shows_a_finished_search(tmp_path, cpu):
    wl, _path = _log(tmp_path, cpu, _events(8, end=True, now=time.time()))
    result = CliRunner().invoke(cli, ["watch", "--log-dir", str(tmp_path), "--once"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if wl.key in line)
    assert "done" in row and "8/8" in row and "0.50" in row  # best: trial 8, 4/8 us
    assert "4.00x onnxruntime" in row  # 2 us / 0.5 us
    state, = search_states(tmp_path)
    assert state.gflops == pytest.approx(wl.flops / 0.5e-6 / 1e9)


def test_once_shows_a_log_without_events_and_an_empty_folder(tmp_path, cpu):
    wl, _path = _log(tmp_path, cpu, None)
    result = CliRunner().invoke(cli, ["watch", "--log-dir", str(tmp_path), "--once"])
    assert result.exit_code == 0 and "no events" in result.output
    empty = CliRunner().invoke(cli, ["watch", "--log-dir", str(tmp_path / "none"), "--once"])
    assert empty.exit_code == 0 and "no tuning logs" in empty.output


def test_a_search_without_an_end_is_running_then_stopped(tmp_path, cpu):
    _log(tmp_path, cpu, _events(5, end=False, now=time.time()))
    assert search_states(tmp_path)[0].status == "running"
    assert search_states(tmp_path, now=time.time() + 3600)[0].status == "stopped"


WRITER = """
import json, sys, time
path = sys.argv[1]
with open(path, "a") as out:
    for t in range(1, 61):
        line = json.dumps({"event": "trial", "trial": t, "elapsed_s": t / 10,
                           "run_s": 1e-6 * (1 + 1 / t), "time": time.time()}) + "\\n"
        out.write(line[:20]); out.flush(); time.sleep(0.01)   # a torn line, for a moment
        out.write(line[20:]); out.flush(); time.sleep(0.01)
"""


def test_once_reads_a_log_another_process_is_writing(tmp_path, cpu):
    _wl, path = _log(tmp_path, cpu, _events(0, end=False, now=time.time()))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path / "events.jsonl")])
    seen = []
    try:
        while writer.poll() is None:
            result = CliRunner().invoke(cli, ["watch", "--log-dir", str(tmp_path), "--once"])
            assert result.exit_code == 0, result.output
            seen.append(search_states(tmp_path)[0].trials)
    finally:
        writer.wait(timeout=30)
    assert seen == sorted(seen) and search_states(tmp_path)[0].trials == 60


def test_sparkline_rises_with_the_best():
    assert sparkline([1, 2, 4, 8]) == "▁▂▄█"  # fewer values than its width: each one
    assert len(sparkline(list(range(1, 101)), width=24)) == 24
    assert sparkline([3, 3, 3]) == "███"
    assert sparkline([]) == sparkline([0.0, 0.0]) == ""  # nothing measured yet


def test_a_log_waiting_in_a_shared_run_is_running_while_its_run_is(tmp_path, cpu):
    """In a run that tunes several logs, one may wait for long: it is running as long as
    the run writes events into any of its logs."""
    now = time.time()
    quiet = [{**e, "time": now - 3600, "run": "r1"} for e in _events(2, end=False, now=now)]
    wl, path = _log(tmp_path, cpu, quiet)
    other = autotune.Workload("gemm", m=9, n=9, k=9)
    busy = LogStore(tmp_path).open(other, cpu, create=True).path
    (busy / "events.jsonl").write_text(json.dumps(
        {"event": "trial", "trial": 1, "elapsed_s": 1.0, "run_s": 1e-6, "time": now,
         "run": "r1"}) + "\n")
    states = {s.workload: s for s in search_states(tmp_path, now=now)}
    assert states[wl.key].status == "running"
    assert search_states(tmp_path, now=now + 3600)[0].status == "stopped"
