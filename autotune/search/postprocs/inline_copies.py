"""Fold a template's copy passes into the blocks next to them, in every candidate.

A layout variant copies its result out of its own layout (``unpack``, ``unflatten``,
``crop``, ``to_nchw``) and then computes a conv's epilogue in a block of its own; a conv
without padding still copies its input through ``pad``. MetaSchedule's CPU rules inline
neither (``AutoInline`` never inlines into a producer on CPUs, nor a block with an
``if_then_else``), so each stays one more pass over a whole tensor. This postprocessor
computes the epilogue inside such a copy-out block and inlines a ``pad`` that pads
nothing, in every candidate the search measures (docs/how-it-tunes.md). A failed fold
leaves the candidate as it was, which is correct either way.
"""

from __future__ import annotations

import logging

import tvm
from tvm import tirx
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.postproc import Postproc, PyPostproc
from tvm.s_tir.schedule import SBlockRV, Schedule, ScheduleError

from autotune.workload.template import block_names

EPILOGUE, PAD = "epilogue", "pad"
log = logging.getLogger(__name__)


@derived_object
class InlineCopies(PyPostproc):
    """Inline the epilogue into a copy-out block and a padding that pads nothing."""

    def _initialize_with_tune_context(self, context: object) -> None:
        pass

    def apply(self, sch: Schedule) -> bool:
        names = block_names(sch.mod["main"])
        for name, fold, wanted in ((EPILOGUE, sch.reverse_compute_inline, _after_copy),
                                   (PAD, sch.compute_inline, _pads_nothing)):
            if name not in names:
                continue  # folded already (a sketch), or never there
            block = sch.get_sblock(name)
            if wanted(sch, block):
                try:
                    fold(block)
                except ScheduleError as err:
                    log.debug("%s not folded: %s", name, str(err).splitlines()[0])
        return True

    def clone(self) -> Postproc:
        return InlineCopies()


def has_copies(mod: tvm.IRModule) -> bool:
    """Whether the template ``mod`` has a pass this postprocessor folds."""
    names = block_names(mod["main"])
    sch = Schedule(mod)
    return (EPILOGUE in names and _after_copy(sch, sch.get_sblock(EPILOGUE))
            or PAD in names and _pads_nothing(sch, sch.get_sblock(PAD)))


def _after_copy(sch: Schedule, block: SBlockRV) -> bool:
    """Whether the block's one producer block is spatial (a copy, not the reduction)."""
    producers = sch.get_producers(block)
    if len(producers) != 1:
        return False
    return all(v.iter_type == tirx.IterVar.DataPar for v in sch.get(producers[0]).iter_vars)


def _pads_nothing(sch: Schedule, block: SBlockRV) -> bool:
    """Whether the block copies one buffer into another of the same shape."""
    node = sch.get(block)
    if len(node.reads) != 1 or len(node.writes) != 1:
        return False
    shape = [int(d) for d in node.reads[0].source.shape]
    return shape == [int(d) for d in node.writes[0].source.shape]
