"""A task's design space: MetaSchedule's generic rules, plus the sketches its template writes.

Every task is searched in the design spaces TVM's ``post-order-apply`` generator builds
from the target's default rules. A template may also offer hand-written sketches for a
target (``KernelTemplate.sketches``: e.g. the channel-blocked convolutions' register
tiles); each becomes one more design space of the same task, through MetaSchedule's
``ScheduleFn`` and ``SpaceGeneratorUnion``, so the evolutionary search, its cost model and
its mutators treat the sketches' sampled decisions like any other, and a record's trace
replays like any other. On CPUs, where the template has copy passes to fold (an epilogue
after a copy-out, a padding that pads nothing), ``postprocs.InlineCopies`` runs ahead of
the target's postprocessors on every candidate.
"""

from __future__ import annotations

import tvm
from tvm.s_tir import meta_schedule as ms

from autotune.search.postprocs import InlineCopies, has_copies
from autotune.workload import Workload


def space_generator(workload: Workload, target: tvm.target.Target):
    """The space generator of ``workload``'s task on ``target``."""
    postprocs = _postprocs(workload, target)
    sketches = workload.template.sketches(workload.params, target)
    if not sketches:
        if postprocs == "from-target":
            return "post-order-apply"
        return ms.space_generator.PostOrderApply(postprocs=postprocs)

    def sketched(sch):
        spaces = []
        for sketch in sketches:
            space = sch.copy()
            space.seed(sch.fork_seed())
            sketch.apply(space)
            spaces.append(space)
        return spaces

    return ms.space_generator.SpaceGeneratorUnion(
        [ms.space_generator.PostOrderApply(), ms.space_generator.ScheduleFn(sketched)],
        postprocs=postprocs)


def _postprocs(workload: Workload, target: tvm.target.Target) -> str | list[ms.Postproc]:
    """The target's postprocessors; on CPUs, for a template with a copy pass to fold,
    ``InlineCopies`` first."""
    mod = workload.module(target)
    if target.kind.name != "llvm" or not has_copies(mod):
        return "from-target"
    defaults = ms.TuneContext(mod=mod, target=target, space_generator="post-order-apply",
                              task_name="defaults").space_generator.postprocs
    return [InlineCopies(), *defaults]
