"""One timing protocol for everything timed: tuned and untuned TVM kernels and baselines.

An implementation is prepared on several input sets (so that a memory-bound kernel does not
find its inputs in cache from the previous call; a model's weights are the same array in
every set, as they are in deployment); each sample runs enough calls, cycling
through the sets, to last ``min_sample_s``; after a warm-up, ``repeat`` samples give the
median, min and max seconds per call. The Python loop adds well under a microsecond a call.
Before its warm-up, an implementation waits for the threads the one timed before it left
spinning to stop (``wait_until_quiet``). Implementations timed against each other are timed
in turns (``measure_in_turns``), so that a slow spell of the host falls on all of them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import psutil

from autotune.workload import Workload


@dataclass(frozen=True)
class Protocol:
    """How to time: samples, their minimum length, warm-up, and the input rotation."""

    repeat: int = 25
    min_sample_s: float = 0.01
    max_sample_s: float = 1.0  # longest pass over every set a sample must make (see measure)
    warmup_s: float = 0.05
    flush_bytes: int = field(default_factory=lambda: 2 * last_level_cache_bytes())
    max_sets: int = 64

    tuning_repeat: int = 3  # samples per candidate while tuning; their mean ranks candidates
    quiet_s: float = 1.0  # longest wait for other threads to stop before timing (0: none)
    rounds: int = 5  # turns that implementations timed against each other take (measure_in_turns)

    def evaluator_config(self):
        """MetaSchedule's evaluator settings for tuning: the same minimum sample length.

        Remote and GPU runners rank candidates with these (in cache, no input rotation);
        the local CPU runner times them with ``measure`` itself
        (``autotune.search.evaluator``). Every number this project reports comes from
        ``measure``.
        """
        from tvm.s_tir.meta_schedule.runner import EvaluatorConfig  # pylint: disable=import-outside-toplevel

        return EvaluatorConfig(number=1, repeat=self.tuning_repeat,
                               min_repeat_ms=max(1, round(self.min_sample_s * 1000)),
                               enable_cpu_cache_flush=False)

    def sets_for(self, workload: Workload) -> int:
        """Input sets whose total size reaches ``flush_bytes`` (at most ``max_sets``)."""
        return self.sets_of(sum(s.nbytes for s in workload.input_specs)
                            + workload.output_spec.nbytes)

    def sets_of(self, set_bytes: int) -> int:
        """``sets_for`` a workload whose inputs and output take ``set_bytes``."""
        return int(min(self.max_sets, max(1, math.ceil(self.flush_bytes / max(set_bytes, 1)))))


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``samples`` samples, each the mean of ``number`` calls."""

    median: float
    min: float
    max: float
    samples: int
    number: int = 1
    sets: int = 1

    @property
    def spread(self) -> float:
        """(max - min) / median."""
        return (self.max - self.min) / self.median if self.median else 0.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_samples(cls, samples: Sequence[float], number: int = 1, sets: int = 1) -> "Timing":
        arr = np.asarray(samples, dtype=np.float64)
        if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError("timing samples must be a non-empty list of positive seconds")
        return cls(float(np.median(arr)), float(arr.min()), float(arr.max()), int(arr.size),
                   number, sets)


class Clock:
    """Wall-clock timer for host code; device clocks wait for queued work before reading."""

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> float:
        return time.perf_counter() - self._t0


@dataclass
class Prepared:
    """An implementation bound to its input sets: ``calls[i]()`` computes on set ``i``."""

    calls: list[Callable[[], object]]
    output: Callable[[int], np.ndarray]  # set i's result as NumPy, after calls[i]() ran
    clock: Clock = field(default_factory=Clock)


def input_sets(workload: Workload, count: int) -> list[list[np.ndarray]]:
    """``count`` independent random input sets (set 0 is ``workload.make_inputs()``); the
    template's weights (a conv's filter) are set 0's array in every set, as in a model."""
    sets = [workload.make_inputs(seed=i) for i in range(count)]
    for index in workload.weight_inputs:
        for inputs in sets[1:]:
            inputs[index] = sets[0][index]
    return sets


def measure(prepared: Prepared, protocol: Protocol | None = None) -> Timing:
    """Time ``prepared`` with ``protocol``: seconds per call, rotating through its sets.

    A sample covers every set equally often where one pass over the sets takes at most
    ``max_sample_s``; a slower call (a whole untuned network) makes each sample as few
    calls as ``min_sample_s`` needs, and the rotation goes on where the last one stopped."""
    protocol = protocol or Protocol()
    wait_until_quiet(protocol.quiet_s)
    sampler = _Sampler(prepared, protocol)
    sampler.calibrate()
    return sampler.timing(sampler.samples(protocol.repeat))


def measure_in_turns(prepared: Sequence[Prepared], protocol: Protocol | None = None,
                     ) -> list[Timing]:
    """Time several implementations of one thing against each other, in turns.

    Their ``repeat`` samples are taken in ``rounds`` rounds, each round timing every
    implementation once as ``measure`` does (a wait for the last one's threads to stop, a
    warm-up of ``warmup_s``, then its share of the samples), and each one's samples of all
    rounds make its ``Timing``. A slow spell of a shared host (seconds long, and up to 2x
    here: docs/benchmarks.md) then falls on all of them alike, not on whichever was timed
    in it, so their ratios hold where their absolute times do not."""
    protocol = protocol or Protocol()
    rounds = max(1, min(protocol.rounds, protocol.repeat))
    counts = [protocol.repeat // rounds + (r < protocol.repeat % rounds) for r in range(rounds)]
    samplers = [_Sampler(p, protocol) for p in prepared]
    found: list[list[float]] = [[] for _ in samplers]
    for count in counts:
        for sampler, samples in zip(samplers, found):
            wait_until_quiet(protocol.quiet_s)
            if sampler.number:
                sampler.warm()  # again, after the others ran
            else:
                sampler.calibrate()
            samples += sampler.samples(count)
    return [sampler.timing(samples) for sampler, samples in zip(samplers, found)]


class _Sampler:
    """One implementation's samples: its calls per sample, once calibrated, and the set
    its rotation goes on from."""

    def __init__(self, prepared: Prepared, protocol: Protocol) -> None:
        self.calls, self.clock, self.protocol = prepared.calls, prepared.clock, protocol
        self.position = 0  # the set the next call computes on
        self.number = 0  # calls a sample, once calibrated

    def run(self, number: int) -> float:
        """Seconds that ``number`` calls take, going on through the sets."""
        calls, sets = self.calls, len(self.calls)
        self.clock.start()
        for i in range(self.position, self.position + number):
            calls[i % sets]()
        elapsed = self.clock.stop()
        self.position = (self.position + number) % sets
        return elapsed

    def calibrate(self) -> None:
        """Warm up for ``warmup_s`` and pick the calls a sample makes."""
        protocol, sets = self.protocol, len(self.calls)
        # The first calls (cold caches, a library's lazy set-up) calibrate nothing: a pass
        # over every set, cut short where one call shows the pass would be slow.
        first = self.run(1)
        number = sets if first * sets <= protocol.max_sample_s else 1
        if number > 1:
            self.run(sets - 1)
        warm_until = time.perf_counter() + protocol.warmup_s
        elapsed = 0.0
        while True:
            if 0 < elapsed < protocol.min_sample_s:
                number *= 2
            elapsed = self.run(number)
            if time.perf_counter() >= warm_until and elapsed >= protocol.min_sample_s / 2:
                break
        per_call = elapsed / number
        number = max(number, math.ceil(protocol.min_sample_s / per_call))
        if per_call * sets <= protocol.max_sample_s:
            number = math.ceil(number / sets) * sets  # every set equally often
        self.number = number

    def warm(self) -> None:
        """Run samples (at least one) for ``warmup_s``, keeping none."""
        warm_until = time.perf_counter() + self.protocol.warmup_s
        self.run(self.number)
        while time.perf_counter() < warm_until:
            self.run(self.number)

    def samples(self, count: int) -> list[float]:
        """``count`` samples, in seconds per call."""
        return [self.run(self.number) / self.number for _ in range(count)]

    def timing(self, samples: Sequence[float]) -> Timing:
        return Timing.from_samples(samples, self.number, len(self.calls))


def wait_until_quiet(max_s: float, window_s: float = 0.03) -> float:
    """Wait (at most ``max_s``) until no other thread of this process has used more than a
    quarter of a CPU over ``window_s``; returns the seconds waited. A library's worker
    threads go on spinning after its last call, on a core the next implementation timed
    wants: measured here, OpenBLAS's (NumPy's) for about 110 ms, ONNX Runtime's about
    40 ms, PyTorch's about 10 ms; bench times PyTorch right after NumPy."""
    start = time.perf_counter()
    me = threading.get_native_id()
    process = psutil.Process()

    def others() -> float:
        return sum(t.user_time + t.system_time for t in process.threads() if t.id != me)

    while time.perf_counter() - start < max_s:
        before = others()
        time.sleep(window_s)
        if others() - before <= window_s / 4:
            break
    return time.perf_counter() - start


@cache
def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache (Linux sysfs), or 32 MiB where it cannot be read."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
    return max(sizes, default=32 << 20)
