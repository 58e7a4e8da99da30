"""How the local runner times a CPU candidate: as ``measure`` times the kernel it reports.

MetaSchedule's default evaluator calls a candidate again and again on one set of inputs,
so it ranks kernels with their operands in cache. ``measure`` rotates input sets that
together overflow the last-level cache, as a kernel whose operands were last touched a
while ago sees them. For a kernel bigger than the caches the two orders disagree: a GEMV
over a 16.8 MB matrix ran 177 us in cache, 730 us rotating, under a schedule NumPy beat
from memory (466 us). Here each candidate is timed the way it is judged: the same input
sets (allocated once per workload in the runner's process, then reused; a template's
weights, such as a conv's filter, one array in every set, as ``input_sets`` makes them),
the same ``measure``, with the tuning protocol's samples.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import tvm

from autotune.measure.protocol import Prepared, Protocol, measure

_sets: dict[str, Any] = {}  # the runner process's input sets ("sets") and what they are for


def args_key(args_info) -> str:
    """The key of a candidate's argument list (MetaSchedule's ``ArgInfo.as_json`` forms)."""
    return json.dumps([list(info) for info in args_info])


def rotating_sets(protocol: Protocol, weights: Mapping[str, Sequence[int]], device, args_info,
                  alloc_repeat: int) -> list[list]:
    """MetaSchedule's ``f_alloc_argument``: input sets that together reach
    ``protocol.flush_bytes``, at most ``protocol.max_sets`` (the first filled at random as
    MetaSchedule fills its arguments, the others copies of it: 0.1 s of filling 64 MB
    at every change of task, a tenth of a batch, became 0.01-0.05 s); the
    arguments ``weights`` names for this argument list (by ``args_key``) are one tensor in
    every set. The sets of the last argument list asked for are kept and reused;
    ``alloc_repeat`` is ignored."""
    del alloc_repeat
    key = args_key(args_info)
    fixed = set(weights.get(key, ()))
    if (str(device), key, fixed) != _sets.get("of"):
        _sets.clear()  # one workload's sets at a time
        fill = tvm.get_global_func("tvm.contrib.random.random_fill_for_measure")
        shapes = [(info[1], tuple(info[2])) for info in args_info]
        count = protocol.sets_of(sum(tvm.runtime.DataType(dtype).itemsize * math.prod(shape)
                                     for dtype, shape in shapes))
        first = [tvm.runtime.empty(shape, dtype, device) for dtype, shape in shapes]
        for tensor in first:
            fill(tensor)
        sets = [first]
        for _ in range(count - 1):  # copies of the first: the same values at other addresses
            sets.append([tensor if i in fixed else tensor.copyto(device)
                         for i, tensor in enumerate(first)])
        _sets.update(of=(str(device), key, fixed), sets=sets)
    return _sets["sets"]


def time_rotating(protocol: Protocol, rt_mod, device, evaluator_config, repeated_args) -> list[float]:
    """MetaSchedule's ``f_run_evaluator``: the candidate's seconds per call under
    ``measure``, its sets rotating, with ``protocol.tuning_repeat`` samples of at least
    ``protocol.min_sample_s`` (the median is what the search ranks). A sample need not
    visit every set (``max_sample_s`` is the sample's length): the calls go on through the
    sets where the last sample stopped, so a candidate costs about as many calls as
    MetaSchedule's evaluator would make, each on a set not touched for as long as possible."""
    del device, evaluator_config
    func = rt_mod[rt_mod.entry_name]
    calls = [partial(func, *args) for args in repeated_args]
    tuning = dataclasses.replace(protocol, repeat=protocol.tuning_repeat, warmup_s=0.0,
                                 quiet_s=0.0, max_sample_s=protocol.min_sample_s)
    return [measure(Prepared(calls, output=_no_output), tuning).median]


def _no_output(index: int) -> None:
    del index
