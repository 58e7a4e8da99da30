"""Overnight runs: damaged logs, kill -9, two tuners on one log, time budgets, log tools."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import filelock
import psutil
import pytest
import tvm
from conftest import TINY_CONV
from tvm.s_tir import meta_schedule as ms

import autotune
from autotune.errors import AutotuneError
from autotune.logs.events import read_events, trials_done
from autotune.logs.repair import RECORDS, WORKLOADS, LogDamageWarning
from autotune.logs.store import LogStore, record_id
from autotune.logs.tools import list_logs, merge, prune, records_csv, records_table
from autotune.search.budget import parse_duration
from autotune.search.options import SearchOptions


def _copy(tuned, tmp_path, name="logs"):
    wl, log_dir, result = tuned
    shutil.copytree(log_dir, tmp_path / name)
    return LogStore(tmp_path / name), wl, result


def _ids(path) -> set[str]:
    return {record_id(r) for r in ms.database.JSONDatabase(work_dir=str(path)).get_all_tuning_records()}


@pytest.mark.parametrize("text,seconds", [("8h", 28800), ("45m", 2700), ("1h30m", 5400),
                                          ("90s", 90), ("2.5", 2.5), (" 1H ", 3600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["8x", "h", "1h30", "-5m", "0", ""])
def test_bad_durations(text):
    with pytest.raises(AutotuneError):
        parse_duration(text)


def test_damaged_record_lines_are_set_aside_with_file_and_line(tuned, cpu, tmp_path):
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    records = entry.path / RECORDS
    n = len(records.read_text().splitlines())
    with open(records, "a") as out:
        out.write("garbage from a dying disk\n[0, [1, 2")  # then a torn last line
    with pytest.warns(LogDamageWarning) as caught:
        db = entry.database()
    messages = [str(w.message) for w in caught]
    assert f"{records}:{n + 1}: damaged line" in messages[0]
    assert f"{records}:{n + 2}: damaged line" in messages[1]
    assert len(db.get_all_tuning_records()) == n
    aside = (entry.path / (RECORDS + ".damaged")).read_text().splitlines()
    assert aside == ["garbage from a dying disk", "[0, [1, 2"]
    db.commit_tuning_record(db.get_all_tuning_records()[0])  # appending works again
    assert len(ms.database.JSONDatabase(work_dir=str(entry.path)).get_all_tuning_records()) == n + 1


@pytest.mark.parametrize("name", [WORKLOADS, RECORDS])
def test_a_line_that_is_not_utf8_is_damage(tuned, cpu, tmp_path, name):
    """A flipped byte inside a JSON string can leave valid JSON but not UTF-8 (found by
    the fuzz test: ``logs list`` died with a UnicodeDecodeError)."""
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    file = entry.path / name
    data = bytearray(file.read_bytes())
    data[data.index(b'"', data.index(b'"') + 1) - 1] = 0xB0  # inside the first string
    file.write_bytes(bytes(data))
    with pytest.warns(LogDamageWarning, match=f"{file}:1: damaged line"):
        db = entry.database()
    kept = result.records - (name == RECORDS)
    assert len(db.get_all_tuning_records()) == kept
    assert [e.workload.key for e in store.entries(cpu)] == [wl.key]


@pytest.mark.parametrize("line", ['["12", "AAAA', '[[1, "a"], "AAAA"]', '[null, "AAAA"]'])
def test_damaged_workload_line_is_rewritten_and_records_kept(tuned, cpu, tmp_path, line):
    """A torn workload line, or one whose hash is not a number's digits (MetaSchedule's
    reader raises a TypeError on it)."""
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    (entry.path / WORKLOADS).write_text(line + "\n")
    with pytest.warns(LogDamageWarning, match=f"{entry.path / WORKLOADS}:1: damaged line, rewritten"):
        db = entry.database()
    assert len(db.get_all_tuning_records()) == result.records
    assert autotune.tune(wl, cpu, trials=0, log_dir=store.root, progress=False).validated


def test_blank_lines_are_dropped_before_metaschedule_reads_the_log(tuned, cpu, tmp_path):
    """MetaSchedule's JSON reader kills the process on a blank line (exit 139)."""
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    with open(entry.path / RECORDS, "a") as out:
        out.write("\n   \n")
    with open(entry.path / WORKLOADS, "a") as out:
        out.write("\n")
    db = entry.database()
    assert len(db.get_all_tuning_records()) == result.records
    assert "" not in (entry.path / RECORDS).read_text().split("\n")[:-1]
    assert not (entry.path / (RECORDS + ".damaged")).exists()  # nothing worth keeping


def test_well_formed_records_metaschedule_cannot_read_are_set_aside(tuned, cpu, tmp_path):
    """A record line of the right shape with a bogus trace made TVM's reader raise."""
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    lines = (entry.path / RECORDS).read_text().splitlines()
    target, args = json.loads(lines[0])[1][2:]
    bogus = [json.dumps([0, [[[["NoSuchInstruction", [], [], []]], []], [1e-9], target, args]]),
             json.dumps([0, [[[], []], ["x"], target, args]])]
    with open(entry.path / RECORDS, "a") as out:
        out.write("\n".join(bogus) + "\n")
    with pytest.warns(LogDamageWarning, match="unreadable by MetaSchedule") as caught:
        db = entry.database()
    assert len(caught) == 2 and len(db.get_all_tuning_records()) == result.records
    aside = (entry.path / (RECORDS + ".damaged")).read_text().splitlines()
    assert aside == bogus


@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_a_lost_workload_file_is_written_again_and_no_record_is_lost(tuned, cpu, tmp_path,
                                                                     damage):
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    if damage == "empty":
        (entry.path / WORKLOADS).write_text("")
    else:
        (entry.path / WORKLOADS).unlink()
    with pytest.warns(LogDamageWarning, match="rewritten from the workload"):
        db = entry.database()
    assert len(db.get_all_tuning_records()) == result.records
    assert not (entry.path / (RECORDS + ".damaged")).exists()


def test_a_log_being_tuned_elsewhere_is_read_from_a_repaired_copy(tuned, cpu, tmp_path):
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    with open(entry.path / RECORDS, "a") as out:
        out.write("[0, [torn")
    before = (entry.path / RECORDS).read_text()
    other = filelock.FileLock(str(entry.path / ".lock"))  # as another process would hold it
    with other:
        with pytest.warns(LogDamageWarning):
            db = entry.database()
    assert len(db.get_all_tuning_records()) == result.records
    assert (entry.path / RECORDS).read_text() == before  # the tuner's files are untouched


KILLABLE = """
import sys, autotune
wl = autotune.Workload.from_key(sys.argv[1])
autotune.tune(wl, "cpu", trials=256, log_dir=sys.argv[2], progress=False,
              search=autotune.SearchOptions(trials_per_iter=8, seed=1, population=64))
"""


@pytest.mark.tuning
def test_kill_9_loses_nothing_written_and_the_rerun_continues(workers, cpu, tmp_path):
    wl = autotune.Workload("conv2d", **TINY_CONV)
    log_dir = tmp_path / "logs"
    records = LogStore(log_dir).path(wl, cpu) / RECORDS
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, wl.key, str(log_dir)])
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if records.exists() and len(records.read_text().splitlines()) >= 8:
            break
        time.sleep(0.2)
    time.sleep(random.uniform(0, 3))  # somewhere in the next batch
    workers_started = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert workers_started  # its builders and runner, which must not outlive it
    _gone, alive = psutil.wait_procs(workers_started, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    entry = LogStore(log_dir).open(wl, cpu)
    entry.database()  # sets aside a torn line, if the kill made one
    before = _ids(entry.path)
    assert len(before) >= 8
    result = autotune.tune(wl, cpu, trials=4, log_dir=log_dir, progress=False, workers=workers,
                           search=SearchOptions(trials_per_iter=4, seed=2, population=64))
    after = _ids(entry.path)
    assert before < after and result.validated
    assert result.trials_run == 4


def _children(pid: int) -> list:
    """The process's descendants; a child that exits while they are listed is retried."""
    for _ in range(20):
        try:
            return psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            time.sleep(0.05)
    return psutil.Process(pid).children(recursive=True)


@pytest.mark.tuning
def test_ctrl_c_is_one_line_and_stops_every_worker(cpu, tmp_path):
    wl = autotune.Workload("conv2d", **TINY_CONV)
    log_dir = tmp_path / "logs"
    events = LogStore(log_dir).path(wl, cpu) / "events.jsonl"
    args = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in wl.params.items()]
    proc = subprocess.Popen([sys.executable, "-m", "autotune", "tune", "conv2d", *args,
                             "--trials", "256", "--trials-per-iter", "8", "--population", "64",
                             "--log-dir", str(log_dir), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if events.exists() and '"trial"' in events.read_text():
            break
        time.sleep(0.2)
    time.sleep(random.uniform(0, 2))  # in a batch: building, measuring or searching
    workers_started = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"interrupted: \d+ trial\(s\) of this run are kept in the logs?; run the "
                        r"same command again to continue", last), err
    assert "Traceback" not in err, err
    _gone, alive = psutil.wait_procs(workers_started, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    entry = LogStore(log_dir).open(wl, cpu)
    assert len(entry.database().get_all_tuning_records()) >= 1  # what was measured is kept


TUNER = """
import sys, autotune
wl = autotune.Workload.from_key(sys.argv[1])
r = autotune.tune(wl, "cpu", trials=4, log_dir=sys.argv[2], progress=False,
                  search=autotune.SearchOptions(trials_per_iter=4, seed=int(sys.argv[3]),
                                                population=64, variants="none"))
print(r.trials_run)
"""


@pytest.mark.tuning
def test_two_processes_tuning_one_log_lose_nothing(tuned, cpu, tmp_path):
    store, wl, result = _copy(tuned, tmp_path)
    path = store.path(wl, cpu)
    before = _ids(path)
    procs = [subprocess.Popen([sys.executable, "-c", TUNER, wl.key, str(store.root), str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (3, 4)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    lines = (path / RECORDS).read_text().splitlines()
    assert all(isinstance(json.loads(line), list) for line in lines)  # none interleaved
    assert len(lines) == result.records + sum(int(o[0].split()[-1]) for o in outs)
    assert before < _ids(path)  # every record kept, and the new ones added
    assert trials_done(path) == result.trials_run + 8


@pytest.mark.parametrize("settings,message", [
    (dict(trials_per_iter=0), "trials_per_iter must be >= 1, got 0"),
    (dict(model_warmup=-3), "model_warmup must be >= 1, got -3"),
])
def test_bad_search_settings_name_the_setting(settings, message):
    with pytest.raises(AutotuneError, match=message):
        SearchOptions(**settings)


@pytest.mark.tuning
def test_time_budget_ends_the_search_after_the_batch(workers, tuned, cpu, tmp_path):
    store, wl, result = _copy(tuned, tmp_path)
    # One batch of 8 outlasts a second: the search ends after it, though no trial limit is set.
    out = autotune.tune(wl, cpu, trials=None, time_budget="1s", log_dir=store.root,
                        progress=False, workers=workers,
                        search=SearchOptions(trials_per_iter=8, population=64, variants="none"))
    assert out.trials_run == 8 and out.validated
    with pytest.raises(AutotuneError, match="trial count, a time budget"):
        autotune.tune(wl, cpu, trials=None, log_dir=store.root)


def test_log_tools(tuned, cpu, tmp_path):
    store, wl, result = _copy(tuned, tmp_path, "a")
    _copy(tuned, tmp_path, "b")
    listed = list_logs(store.root)
    assert list(listed["workload"]) == [wl.key] and listed["records"].item() == result.records
    assert listed["best_validated_us"].item() == pytest.approx(result.tuning_latency_s * 1e6)

    table = records_table(store.open(wl, cpu))
    assert len(table) == result.records and table["same_target"].all()
    assert table.loc[table["validated"] == True, "run_us"].min() == pytest.approx(  # noqa: E712
        result.tuning_latency_s * 1e6)

    assert list(prune(tmp_path / "b", keep=4).values()) == [result.records - 4]
    pruned = LogStore(tmp_path / "b").open(wl, cpu)
    assert len(pruned.database().get_all_tuning_records()) == 4
    kept = (pruned.path / (RECORDS + ".pruned")).read_text().splitlines()
    assert len(kept) == result.records  # nothing lost

    added = merge([tmp_path / "b", tmp_path / "a"], tmp_path / "merged")
    assert [count for _, _, count in added] == [4, result.records - 4]
    assert [count for _, _, count in merge([tmp_path / "a"], tmp_path / "merged")] == [0]
    merged = LogStore(tmp_path / "merged").open(wl, cpu)
    assert _ids(merged.path) == _ids(store.path(wl, cpu))

    csv = records_csv(tmp_path / "merged", tmp_path / "records.csv")
    assert len(csv.read_text().splitlines()) == result.records + 1


@pytest.mark.tuning
def test_one_budget_shared_by_several_workloads(workers, cpu, tmp_path):
    from autotune.search.tune import tune_many

    conv = autotune.Workload("conv2d", **TINY_CONV)
    gemm = autotune.Workload("gemm", m=7, n=9, k=5)
    started = time.perf_counter()
    results = tune_many([conv, gemm], cpu, trials=20, log_dir=tmp_path, progress=False,
                        workers=workers,
                        search=SearchOptions(trials_per_iter=8, seed=0, population=64,
                                             variants="none"))
    wall = time.perf_counter() - started
    # The shared budget: a first round of 5 each (half of it), then batches of 5.
    assert sum(r.trials_run for r in results) == 20
    # Each log's clock counts only its own batches: together they stay within the run's time.
    own = [max(e["elapsed_s"] for e in read_events(r.log_path) if e["event"] == "trial")
           for r in results]
    assert all(s > 0.5 for s in own) and sum(own) <= wall  # each batch is charged to its own
    assert all(r.trials_run >= 5 and r.validated for r in results)
    for wl, r in zip((conv, gemm), results):  # each log holds only its own workload
        db = ms.database.JSONDatabase(work_dir=r.log_path)
        assert len(db.get_all_tuning_records()) == r.records
        assert len((Path(r.log_path) / WORKLOADS).read_text().splitlines()) == 1
        assert db.has_workload(wl.module())
    timed = tune_many([conv, gemm], cpu, time_budget="1s", log_dir=tmp_path, progress=False,
                      workers=workers,
                      search=SearchOptions(trials_per_iter=8, seed=1, population=64,
                                           variants="none"))
    assert [r.trials_run for r in timed] == [8, 8]  # one batch each, then the budget ends both


@pytest.mark.tuning
def test_weights_send_the_shared_budget_to_the_heavier_workload(workers, cpu, tmp_path):
    from autotune.search.tune import tune_many

    conv = autotune.Workload("conv2d", **TINY_CONV)
    gemm = autotune.Workload("gemm", m=7, n=9, k=5)
    for heavy in (conv, gemm):  # whichever would win unweighted, the other one wins too
        results = tune_many([conv, gemm], cpu, trials=24, log_dir=tmp_path / heavy.kernel,
                            progress=False, workers=workers, weights={heavy: 1e6},
                            search=SearchOptions(trials_per_iter=8, seed=0, population=64,
                                                 variants="none"))
        # A first round of 6 each (half the budget), then both later batches to the heavy one.
        assert {r.workload: r.trials_run for r in results} == \
            {conv.key: 18 if heavy == conv else 6, gemm.key: 18 if heavy == gemm else 6}


def test_verdicts_from_another_tvm_version_are_redone(tuned, cpu, tmp_path):
    from autotune.logs.store import VERDICTS
    from autotune.measure.validate import best_validated

    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    best_validated(entry)
    verdicts = json.loads((entry.path / VERDICTS).read_text())
    assert verdicts and all(v["tvm"] == tvm.__version__ for v in verdicts.values())
    for verdict in verdicts.values():  # as if checked by another TVM, and found wrong
        verdict.update(ok=False, tvm="0.0.1", error="checked by an old TVM")
    (entry.path / VERDICTS).write_text(json.dumps(verdicts))
    choice = best_validated(entry)
    assert choice is not None and choice.rejected == 0  # re-checked, not trusted
    assert entry.verdicts()[choice.rid] == {"ok": True, "tvm": tvm.__version__}


@pytest.mark.tuning
def test_a_disk_running_full_stops_the_search_between_batches(workers, cpu, tmp_path,
                                                              monkeypatch):
    import autotune.search.tune as tune_module

    wl = autotune.Workload("gemm", m=7, n=9, k=5)
    path = LogStore(tmp_path).path(wl, cpu)
    # Space runs out once the first batch is in: no second batch may start.
    monkeypatch.setattr(tune_module, "_free_bytes",
                        lambda _: 0 if trials_done(path) >= 4 else 1 << 40)
    with pytest.raises(AutotuneError, match=r"only 0 MiB left on the disk of .*free some space"):
        autotune.tune(wl, cpu, trials=12, log_dir=tmp_path, progress=False, workers=workers,
                      search=SearchOptions(trials_per_iter=4, seed=0, population=64))
    entry = LogStore(tmp_path).open(wl, cpu)
    records = len(entry.database().get_all_tuning_records())
    assert trials_done(path) == 4 and records == 4  # every trial counted has its record


@pytest.mark.tuning
def test_a_record_not_written_whole_ends_the_search_and_is_cut_off(workers, cpu, tmp_path,
                                                                     monkeypatch):
    """A disk that fills in the middle of a batch: MetaSchedule's append is torn (here: the
    fifth record's line is reported without its newline). The torn bytes are cut off, the
    search stops with one error, and the log counts no trial whose record it lacks, so the
    next run measures the lost ones again."""
    import autotune.logs.routed as routed

    wl = autotune.Workload("gemm", m=7, n=9, k=5)
    path = LogStore(tmp_path).path(wl, cpu)
    checks = []
    real = routed._last_byte

    def torn_after_four(file):
        if file.name == RECORDS:
            checks.append(file)
            return b"}" if len(checks) == 5 else real(file)
        return real(file)

    monkeypatch.setattr(routed, "_last_byte", torn_after_four)
    with pytest.raises(AutotuneError, match=r"could not be written to .*database_tuning_record"):
        autotune.tune(wl, cpu, trials=12, log_dir=tmp_path, progress=False, workers=workers,
                      search=SearchOptions(trials_per_iter=8, seed=0, population=64))
    monkeypatch.setattr(routed, "_last_byte", real)
    entry = LogStore(tmp_path).open(wl, cpu)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LogDamageWarning)  # nothing torn is left behind
        records = len(entry.database().get_all_tuning_records())
    assert records == 4 and trials_done(path) <= records
    result = autotune.tune(wl, cpu, trials=12, log_dir=tmp_path, progress=False,
                           workers=workers,
                           search=SearchOptions(trials_per_iter=8, seed=0, population=64))
    assert result.validated and trials_done(path) >= 12 and result.records >= trials_done(path)


def test_a_workload_line_metaschedule_cannot_read_is_rewritten(tuned, cpu, tmp_path):
    """Well-formed JSON whose module does not parse (a flipped byte inside the base64):
    the line is written again from the workload and no record is set aside."""
    store, wl, result = _copy(tuned, tmp_path)
    entry = store.open(wl, cpu)
    shash, module = json.loads((entry.path / WORKLOADS).read_text().splitlines()[0])
    raw = base64.b64decode(module)
    at = raw.index(b'"nodes"')
    broken = base64.b64encode(raw[:at + 2] + b"\x01" + raw[at + 3:]).decode()
    (entry.path / WORKLOADS).write_text(json.dumps([shash, broken]) + "\n")
    with pytest.warns(LogDamageWarning, match="unreadable by MetaSchedule, rewritten"):
        db = entry.database()
    assert len(db.get_all_tuning_records()) == result.records
    assert not (entry.path / (RECORDS + ".damaged")).exists()
