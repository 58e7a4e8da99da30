"""The timing protocol's statistics, checked on synthetic timings."""

from __future__ import annotations

import pytest

from autotune.measure.protocol import (
    Clock,
    Prepared,
    Protocol,
    Timing,
    measure,
    measure_in_turns,
    wait_until_quiet,
)
from autotune.workload import Workload


class ScriptedClock(Clock):
    """A clock whose every start/stop pair lasts ``per_call * calls`` seconds (no real time)."""

    def __init__(self, per_call: list[float]) -> None:
        self.per_call = per_call
        self.calls_made = 0
        self.samples = 0

    def start(self) -> None:
        self._before = self.calls_made

    def stop(self) -> float:
        n = self.calls_made - self._before
        seconds = self.per_call[min(self.samples, len(self.per_call) - 1)] * n
        self.samples += 1
        return seconds


def test_timing_statistics():
    t = Timing.from_samples([3.0, 1.0, 2.0, 10.0, 2.0], number=4, sets=2)
    assert (t.median, t.min, t.max, t.samples) == (2.0, 1.0, 10.0, 5)
    assert t.spread == pytest.approx(4.5)
    for bad in ([], [1.0, 0.0], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            Timing.from_samples(bad)


def test_measure_cycles_sets_and_reaches_the_minimum_sample_length():
    used = []
    clock = ScriptedClock([1e-6])  # every call "takes" 1 us
    calls = [lambda i=i: (used.append(i), setattr(clock, "calls_made", clock.calls_made + 1))
             for i in range(3)]
    protocol = Protocol(repeat=7, min_sample_s=1e-3, warmup_s=0.0, max_sets=3)
    t = measure(Prepared(calls, lambda i: None, clock), protocol)
    assert t.samples == 7 and t.sets == 3
    assert t.number % 3 == 0 and t.number * 1e-6 >= 1e-3  # each sample lasts >= 1 ms
    assert t.median == pytest.approx(1e-6)
    assert {used.count(i) for i in range(3)} == {used.count(0)}  # every set equally often


def test_a_slow_call_is_timed_in_few_calls_that_go_on_rotating_the_sets():
    """A whole untuned network (here 2 s a call over 64 sets) is not run 64 times a sample:
    each sample is one call, and the samples go on through the sets in turn."""
    used = []
    clock = ScriptedClock([2.0])
    calls = [lambda i=i: (used.append(i), setattr(clock, "calls_made", clock.calls_made + 1))
             for i in range(64)]
    protocol = Protocol(repeat=5, min_sample_s=0.01, warmup_s=0.0, max_sets=64)
    t = measure(Prepared(calls, lambda i: None, clock), protocol)
    assert (t.samples, t.number, t.median) == (5, 1, 2.0)
    assert used == list(range(len(used))) and len(used) == 7  # cold, warm, then 5 samples


def test_measure_reports_the_median_not_the_mean():
    clock = ScriptedClock([1e-6] * 3 + [1e-6, 5e-6, 1e-6, 2e-6, 1e-6])
    calls = [lambda: setattr(clock, "calls_made", clock.calls_made + 1)]
    protocol = Protocol(repeat=5, min_sample_s=0.0, warmup_s=0.0, max_sets=1)
    t = measure(Prepared(calls, lambda i: None, clock), protocol)
    assert t.max == pytest.approx(5e-6) and t.median == pytest.approx(1e-6)


def test_input_rotation_covers_the_cache():
    small = Workload("add", n=1000)  # 12 kB a set
    big = Workload("add", n=1 << 24)  # 192 MiB a set
    protocol = Protocol(flush_bytes=64 << 20, max_sets=64)
    assert protocol.sets_for(small) == 64
    assert protocol.sets_for(big) == 1
    assert Protocol(flush_bytes=120_000, max_sets=64).sets_for(small) == 10


def test_timing_waits_for_the_threads_left_spinning():
    """A library's worker spinning after its last call (here a thread busy for 0.3 s) is
    waited for before the next implementation is timed; an idle process is not held up,
    and a thread that never stops holds timing up for at most ``max_s``."""
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    def spin(seconds: float, stop: threading.Event) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not stop.is_set():
            pass

    stop = threading.Event()
    worker = threading.Thread(target=spin, args=(0.3, stop))
    worker.start()
    waited = wait_until_quiet(5.0)
    worker.join()
    assert 0.2 < waited < 2.0
    assert wait_until_quiet(5.0) < 0.5
    forever = threading.Thread(target=spin, args=(60.0, stop))
    forever.start()
    try:
        assert 0.4 <= wait_until_quiet(0.4) < 1.5
    finally:
        stop.set()
        forever.join()


class SlowSpellClock(Clock):
    """Every call "takes" ``per_call`` seconds, twice that during the host's slow spell:
    the first ``spell`` samples taken by any of the clocks sharing ``host``."""

    def __init__(self, per_call: float, host: dict) -> None:
        self.per_call, self.host, self.calls_made = per_call, host, 0

    def start(self) -> None:
        self._before = self.calls_made

    def stop(self) -> float:
        slow = self.host["samples"] < self.host["spell"]
        self.host["samples"] += 1
        return (self.calls_made - self._before) * self.per_call * (2 if slow else 1)


def _spell_arms(per_call: list[float], spell: int) -> tuple[list[Prepared], list[list[int]]]:
    host = {"samples": 0, "spell": spell}
    arms, used = [], []
    for seconds in per_call:
        clock, order = SlowSpellClock(seconds, host), []
        calls = [lambda i=i, c=clock, o=order: (o.append(i), setattr(c, "calls_made",
                                                                       c.calls_made + 1))
                 for i in range(2)]
        arms.append(Prepared(calls, lambda i: None, clock))
        used.append(order)
    return arms, used


def test_implementations_timed_in_turns_share_a_slow_spell():
    """Two equally fast implementations and a slow spell of the host while the first is
    timed: back to back, the first comes out twice as slow; in turns both keep their
    speed, each with all its samples, every set visited equally often."""
    protocol = Protocol(repeat=25, rounds=5, min_sample_s=1e-4, warmup_s=0.0, max_sets=2,
                        quiet_s=0.0)
    arms, _ = _spell_arms([1e-6, 1e-6], spell=30)
    one_by_one = [measure(arm, protocol).median for arm in arms]
    assert one_by_one[0] == pytest.approx(2 * one_by_one[1])

    arms, used = _spell_arms([1e-6, 1e-6], spell=30)
    first, second = measure_in_turns(arms, protocol)
    assert first.median == pytest.approx(second.median) == pytest.approx(1e-6)
    assert first.samples == second.samples == 25
    assert all(order.count(0) == order.count(1) for order in used)


def test_turns_split_the_samples_over_the_rounds():
    protocol = Protocol(repeat=7, rounds=3, min_sample_s=0.0, warmup_s=0.0, max_sets=1,
                        quiet_s=0.0)
    host = {"samples": 0, "spell": 0}
    clocks = [SlowSpellClock(1e-6, host) for _ in range(2)]
    log: list[int] = []
    arms = [Prepared([lambda n=n, c=c: (log.append(n), setattr(c, "calls_made",
                                                                c.calls_made + 1))],
                     lambda i: None, c) for n, c in enumerate(clocks)]
    timings = measure_in_turns(arms, protocol)
    assert [t.samples for t in timings] == [7, 7]
    switches = sum(a != b for a, b in zip(log, log[1:]))
    assert switches == 2 * 3 - 1  # A B | A B | A B
    assert measure_in_turns([], protocol) == []
