"""The design space MetaSchedule searches for a workload.

TVM's CPU space always runs the outer loops on a thread pool. For a kernel that takes a
few microseconds, waking the pool costs as much as the work (an add of 4096 floats: 1.4 us
parallel, 0.7 us on one thread), so a small workload's space also holds the same schedules
run on the calling thread, and the measurements decide.
"""

from __future__ import annotations

import tvm
from tvm.s_tir import meta_schedule as ms

from .workload import Workload

# A workload whose data fit in a core's L2 and whose arithmetic takes a core some
# microseconds is small: a parallel launch can cost as much as the work.
SMALL_BYTES = 1 << 20
SMALL_FLOPS = 4e6


def is_small(workload: Workload) -> bool:
    return workload.bytes_moved <= SMALL_BYTES and workload.flops <= SMALL_FLOPS


def design_space(workload: Workload, target: tvm.target.Target):
    """MetaSchedule's space generator for ``workload``: TVM's default for the target, and
    for a small workload on a CPU its union with the same rules without thread parallelism."""
    if target.kind.name != "llvm" or not is_small(workload):
        return "post-order-apply"
    default = ms.TuneContext(mod=workload.module(), target=target,
                             space_generator="post-order-apply", task_name="space").space_generator
    serial = [
        ms.schedule_rule.ParallelizeVectorizeUnroll(
            max_jobs_per_core=-1, max_vectorize_extent=rule.max_vectorize_extent,
            unroll_max_steps=list(rule.unroll_max_steps), unroll_explicit=rule.unroll_explicit)
        if isinstance(rule, ms.schedule_rule.ParallelizeVectorizeUnroll) else rule
        for rule in default.sch_rules
    ]
    postprocs, mutators = list(default.postprocs), dict(default.mutator_probs)
    return ms.space_generator.SpaceGeneratorUnion(
        [ms.space_generator.PostOrderApply(sch_rules=list(default.sch_rules), postprocs=postprocs,
                                           mutator_probs=mutators),
         ms.space_generator.PostOrderApply(sch_rules=serial, postprocs=postprocs,
                                           mutator_probs=mutators)],
        sch_rules=[], postprocs=postprocs, mutator_probs=mutators)
