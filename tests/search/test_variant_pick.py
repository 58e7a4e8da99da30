"""The layout variant that serves a workload is chosen from timings taken in turns."""

from __future__ import annotations

from types import SimpleNamespace

from autotune.measure.device import time_in_turns
from autotune.measure.protocol import Timing
from autotune.search import tune as tune_module


def _timer(name: str, values: list[float], order: list[str]):
    values = iter(values)

    def timer() -> Timing:
        order.append(name)
        return Timing.from_samples([next(values)])

    return timer


def test_timers_run_in_turns_and_each_gives_its_median_round():
    order: list[str] = []
    a = _timer("a", [5.0, 1.0, 2.0], order)
    b = _timer("b", [1.5, 9.0, 1.6], order)
    assert time_in_turns([a, b], rounds=3) == [2.0, 1.6]
    assert order == ["a", "b", "a", "b", "a", "b"]  # a slow spell hits both alike


class _Device:
    def __init__(self, medians: dict[str, list[float]]) -> None:
        self.medians, self.order = medians, []

    def check(self, *args):
        return None

    def timer(self, mod, workload, target, protocol):
        assert protocol.repeat < 25  # the protocol's samples split over the rounds
        return _timer(workload, self.medians[workload], self.order)


def _pair(key: str, latency: float | None):
    entry = SimpleNamespace(workload=key)
    result = SimpleNamespace(workload=key, validated=latency is not None, latency_s=latency)
    return entry, result


def test_validated_variants_are_timed_in_turns_for_the_choice(monkeypatch, cpu):
    monkeypatch.setattr(tune_module, "best_validated",
                        lambda entry, check=None: SimpleNamespace(module=entry.workload))
    # One timing each, taken apart, put the NCHW kernel behind; in turns it is ahead.
    pairs = [_pair("nchw", 87e-6), _pair("blocked", 62e-6), _pair("nhwc", None)]
    device = _Device({"nchw": [46e-6, 47e-6, 90e-6], "blocked": [63e-6, 61e-6, 64e-6]})
    latencies = tune_module._variant_latencies(pairs, cpu, device)
    assert latencies == {"nchw": 47e-6, "blocked": 63e-6}  # the unvalidated one is left out
    assert device.order == ["nchw", "blocked"] * 3


def test_a_lone_validated_variant_is_not_timed_again(cpu):
    device = _Device({})
    pairs = [_pair("nchw", 50e-6), _pair("blocked", None)]
    assert tune_module._variant_latencies(pairs, cpu, device) == {"nchw": 50e-6}
    assert device.order == []
