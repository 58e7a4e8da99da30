"""The log store reads every log it can, and names each one it cannot, in one line."""

from __future__ import annotations

import json

import pytest

import autotune
from autotune.errors import LogError
from autotune.hardware.target import target_json
from autotune.logs.repair import LogDamageWarning
from autotune.logs.store import META, META_FORMAT, LogStore

GOOD = autotune.Workload("add", n=5)
BAD = autotune.Workload("add", n=6)


@pytest.mark.parametrize("meta", [
    b"{ not json", b"\xff\xfe garbage", b"[1, 2]", b'{"workload": 3, "target": {}}',
    "unknown kernel",
])
def test_an_unreadable_donor_is_skipped_with_one_warning(tmp_path, cpu, meta):
    store = LogStore(tmp_path)
    store.open(GOOD, cpu, create=True)
    bad = store.open(BAD, cpu, create=True)
    if meta == "unknown kernel":  # of this target, naming a kernel this autotune lacks
        meta = json.dumps({"workload": {"kernel": "no-such-kernel", "params": {}},
                           "target": target_json(cpu)}).encode()
    (bad.path / META).write_bytes(meta)
    with pytest.warns(LogDamageWarning, match=f"log {bad.path} skipped") as caught:
        entries = store.entries(cpu)
    assert [e.workload for e in entries] == [GOOD] and len(caught) == 1
    assert "\n" not in str(caught[0].message)
    if b"no-such-kernel" not in meta:  # opening that log itself: one clear error
        with pytest.raises(LogError, match=str(bad.path / META)):
            store.open(BAD, cpu)


def test_meta_json_carries_its_format_and_a_newer_one_is_refused(tmp_path, cpu):
    store = LogStore(tmp_path)
    entry = store.open(GOOD, cpu, create=True)
    meta = json.loads((entry.path / META).read_text())
    assert meta["format"] == META_FORMAT
    del meta["format"]  # written before the field existed: format 1
    (entry.path / META).write_text(json.dumps(meta))
    assert store.open(GOOD, cpu).workload == GOOD
    (entry.path / META).write_text(json.dumps({**meta, "format": META_FORMAT + 1}))
    with pytest.raises(LogError, match="newer than this autotune reads"):
        store.open(GOOD, cpu)


def test_malformed_events_verdicts_and_winner_are_read_as_far_as_they_go(tmp_path, cpu):
    from autotune.logs.events import EVENTS, read_events, trials_done
    from autotune.logs.store import VERDICTS
    from autotune.measure.validate import WINNER, recorded_winner

    store = LogStore(tmp_path)
    entry = store.open(GOOD, cpu, create=True)
    (entry.path / EVENTS).write_bytes(
        b'{"event": "trial", "trial": 1, "elapsed_s": 0.5, "run_s": 1e-6}\n'
        b'[1, 2]\n"a string"\n{"event": "trial", "trial": "two", "elapsed_s": 1}\n'
        b'{"event": "trial", "trial": 3, "elapsed_s": null}\n\xff\xfe\n'
        b'{"event": "trial", "trial": 2, "elapsed_s": 0.9, "run_s": null}\n{"event": "tri')
    assert [e["trial"] for e in read_events(entry.path)] == [1, 2]
    assert trials_done(entry.path) == 2

    for bad in (b"{ torn", b"[1]", b"\xff"):
        (entry.path / VERDICTS).write_bytes(bad)
        with pytest.warns(LogDamageWarning, match="validated again"):
            assert entry.verdicts() == {}
    (entry.path / VERDICTS).write_text('{"a": {"ok": true}, "b": {"ok": "yes"}, "c": 3}')
    assert entry.verdicts() == {"a": {"ok": True}}

    for bad in (b"{ torn", b'["x"]', b'{"winner": 7}'):
        (entry.path / WINNER).write_bytes(bad)
        with pytest.warns(LogDamageWarning, match="names no winner"):
            assert recorded_winner(store, GOOD, cpu) is None
    (entry.path / WINNER).write_text('{"winner": "add-n5-float32"}')
    assert recorded_winner(store, GOOD, cpu) == "add-n5-float32"


def test_a_winner_is_chosen_among_this_runs_variants_and_those_timed_before(tmp_path, cpu):
    from autotune.measure.validate import WINNER, record_winner, recorded_winner

    store = LogStore(tmp_path)  # the workload's own folder need not exist (never tuned as is)
    assert record_winner(store, GOOD, cpu, {"blocked": 2e-6, "nhwc": 3e-6}) == "blocked"
    assert record_winner(store, GOOD, cpu, {"nhwc": 1e-6}) == "nhwc"  # faster now
    assert record_winner(store, GOOD, cpu, {"nhwc": 4e-6}) == "blocked"  # an earlier time wins
    saved = json.loads((store.path(GOOD, cpu) / WINNER).read_text())
    assert saved["latency_s"] == {"blocked": 2e-6, "nhwc": 4e-6}
    assert recorded_winner(store, GOOD, cpu) == "blocked"
    (store.path(GOOD, cpu) / WINNER).write_bytes(b"{ torn")
    assert record_winner(store, GOOD, cpu, {"nhwc": 4e-6}) == "nhwc"
