"""Schedules carried over from other workloads' logs: a new shape starts from what its
neighbours found.

A MetaSchedule trace replays on another workload of the same template: the same blocks
and loops, with other extents. Of its random decisions only the tile sizes
(``SamplePerfectTile``) depend on the extents; each is fitted to the new loop (the inner
levels as close to the donor's as the extent's divisors allow, the outermost level takes
the rest). Every other decision (unroll depth, ...) replays as it was made, except a
compute location the new loop nest lacks, which becomes the nearest one outside it (TVM's
rule when a trace replays). The annotations in which a trace carries its own target's
limits (``TARGET_ANNOTATIONS``: how far its loops may be parallelised, from the donor
machine's core count, and vectorised) take the new task's values. A trace that no longer
applies, or that a postprocessor rejects, is dropped; a carried-over kernel is measured,
logged and validated like any other candidate.

Donors are first the logs of the same target, then the seed logs packaged with autotune
(``SearchOptions.seed_logs``, by default the ones in ``search/seeds/``: the fastest
validated schedules of long searches, made on another machine of the same target kind), so a first search on a new machine starts from them.
A seed's time on its own machine says nothing here: it is measured again like any
candidate, and only this target's measurements enter this target's log.

Within one run of several tasks (a model's kernels, a suite), ``SiblingDonors`` hands each
task the best schedules its most similar fellow tasks have found so far, so that what one
kernel's search finds is tried on its neighbours in the same run, not only in the next.
"""

from __future__ import annotations

import logging
import math
from itertools import zip_longest
from pathlib import Path

import tvm
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.schedule import Instruction, Schedule, Trace
from tvm.tirx import IntImm

from autotune.hardware.target import same_target
from autotune.logs.store import LogEntry, LogStore, record_id
from autotune.workload import Workload

SEEDS = 16  # carried-over schedules at most, per task
DONOR_LOGS = 4  # the most similar logs they are drawn from
# Annotations whose values MetaSchedule's schedule rules take from the target (the parallel
# extent is 16 jobs per core), not from a search decision.
TARGET_ANNOTATIONS = ("meta_schedule.parallel", "meta_schedule.vectorize")

log = logging.getLogger(__name__)


def fit_tiles(extent: int, donor: list[int], max_innermost: int = 0) -> list[int]:
    """Tile sizes whose product is ``extent``, shaped like ``donor``'s.

    From the innermost level out, each level but the outermost takes the divisor of what
    is left nearest the donor's size (by ratio, ties to the larger), the innermost within
    ``max_innermost`` (0: no limit); the outermost level takes the rest.
    """
    tiles = [1] * len(donor)
    rest = extent
    for i in range(len(donor) - 1, 0, -1):
        limit = max_innermost if i == len(donor) - 1 and max_innermost > 0 else rest
        sizes = [d for d in range(1, min(rest, limit) + 1) if rest % d == 0]
        want = math.log(max(1, donor[i]))
        tiles[i] = min(sizes, key=lambda d: (abs(math.log(d) - want), -d))
        rest //= tiles[i]
    tiles[0] = rest
    return tiles


def target_annotations(design_spaces: list[Schedule]) -> dict[str, IntImm]:
    """The values a task's design spaces give ``TARGET_ANNOTATIONS`` (its target's limits)."""
    return {str(inst.attrs[0]): inst.inputs[1]
            for space in design_spaces for inst in space.trace.insts
            if inst.kind.name == "Annotate" and str(inst.attrs[0]) in TARGET_ANNOTATIONS}


def retarget(trace: Trace, values: dict[str, IntImm]) -> Trace:
    """``trace`` with the annotations named in ``values`` set to those values."""
    insts = [
        Instruction(inst.kind, [inst.inputs[0], values[str(inst.attrs[0])]], inst.attrs,
                    inst.outputs)
        if inst.kind.name == "Annotate" and str(inst.attrs[0]) in values else inst
        for inst in trace.insts
    ]
    return Trace(insts, trace.decisions)  # no Annotate has a decision: all keys are kept


def transfer(trace: Trace, mod: tvm.IRModule, postprocs,
             annotations: dict[str, IntImm] | None = None) -> Schedule | None:
    """``trace`` replayed on ``mod`` with its tile sizes fitted and ``annotations``
    (``target_annotations``) set, then ``postprocs`` applied; None if it does not apply."""
    # A copy: replaying a serial, vectorised schedule once changed the module given in place.
    sch = Schedule(tvm.ir.load_json(tvm.ir.save_json(mod)), debug_mask=0)
    if annotations:
        trace = retarget(trace, annotations)

    def decide(inst, inputs, attrs, decision):
        if inst.kind.name != "SamplePerfectTile":
            return decision
        extent = sch.get(inputs[0]).extent
        if not isinstance(extent, IntImm):
            return decision
        max_innermost = int(attrs[1]) if len(attrs) > 1 else 0
        return fit_tiles(int(extent), [int(d) for d in decision], max_innermost)

    try:
        trace.apply_to_schedule(sch, remove_postproc=True, decision_provider=decide)
        sch.enter_postproc()
        if all(p.apply(sch) for p in postprocs):
            return sch
    except (RuntimeError, ValueError, IndexError, TypeError) as err:  # TVM's errors
        log.debug("a carried-over trace does not apply: %s", str(err).splitlines()[0])
    return None


def similarity(a: Workload, b: Workload) -> int:
    """How many parameters two workloads of one template share."""
    return sum(b.params.get(name) == value for name, value in a.params.items())


def donor_traces(workload: Workload, logs: list[LogEntry], packaged: list[LogEntry] = (),
                 limit: int = SEEDS) -> list[Trace]:
    """The fastest traces of up to ``DONOR_LOGS`` other logs of ``workload``'s template.

    ``logs`` are the target's logs (never another target's), ranked first; ``packaged``
    (``packaged_logs``) fill the places left. Within each, the most similar workloads come
    first; ``workload``'s own log is never a donor, nor its packaged one. Their bests
    alternate: each log's fastest, then each one's second, up to ``limit``. Records found
    wrong by validation are left out.
    """
    def ranked(entries: list[LogEntry]) -> list[LogEntry]:
        same = [e for e in entries if e.workload.kernel == workload.kernel
                and e.workload != workload and e.has_records()]
        return sorted(same, key=lambda e: -similarity(workload, e.workload))

    donors = (ranked(logs) + ranked(packaged))[:DONOR_LOGS]
    ranked_traces = [_fastest(e, limit) for e in donors]
    traces = [t for tier in zip_longest(*ranked_traces) for t in tier if t is not None]
    return traces[:limit]


def packaged_logs(target: tvm.target.Target, seed_logs: Path | None) -> list[LogEntry]:
    """The seed logs under ``seed_logs`` (None: none) for ``target``'s kind (llvm, ...)."""
    if seed_logs is None or not Path(seed_logs).is_dir():
        return []
    kind = target.kind.name
    return [e for e in LogStore(seed_logs).entries() if e.target.kind.name == kind]


def _fastest(entry: LogEntry, limit: int) -> list[Trace]:
    """The traces of ``entry``'s ``limit`` fastest records not found wrong, fastest first."""
    db = entry.database()
    wrong = {rid for rid, verdict in entry.verdicts().items() if not verdict.get("ok", True)}
    workload = db.commit_workload(entry.workload.module(entry.target))
    records = db.get_top_k(workload, limit + len(wrong))
    return [r.trace for r in records
            if same_target(r.target, entry.target) and record_id(r) not in wrong][:limit]


class SiblingDonors:
    """The fastest schedules of a run's tasks, for the other tasks of the same template.

    ``routes`` are the run's tasks as (workload module, database) pairs, in the order of
    ``workloads`` (``RoutedDatabase.routes``). ``fresh(i)`` gives task ``i`` the ``per_donor``
    fastest traces of each of its ``donors`` most similar fellow tasks that it was not
    given before: a task that improved hands on its new best, one that did not hands on
    nothing new.
    """

    def __init__(self, workloads: list[Workload], routes: list, donors: int = DONOR_LOGS,
                 per_donor: int = 2) -> None:
        self.routes = routes
        self.per_donor = per_donor
        self.donors = [
            sorted((j for j, other in enumerate(workloads)
                    if j != i and other.kernel == wl.kernel and other != wl),
                   key=lambda j, wl=wl: -similarity(wl, workloads[j]))[:donors]
            for i, wl in enumerate(workloads)]
        self.given: list[set[str]] = [set() for _ in workloads]

    def fresh(self, task: int) -> list[Trace]:
        traces = []
        for j in self.donors[task]:
            mod, db = self.routes[j]
            if not db.has_workload(mod):
                continue
            for record in db.get_top_k(db.commit_workload(mod), self.per_donor):
                key = record_id(record)
                if key not in self.given[task]:
                    self.given[task].add(key)
                    traces.append(record.trace)
        return traces


def measure_candidate(sch: Schedule) -> ms.MeasureCandidate:
    """A schedule as the runner's candidate, with its arguments as MetaSchedule builds them."""
    args = ms.arg_info.ArgInfo.from_entry_func(sch.mod, remove_preproc=True)
    return ms.MeasureCandidate(sch, args)
