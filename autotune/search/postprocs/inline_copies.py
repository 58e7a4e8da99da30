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
        for fold, block in _folds(sch):
            try:
                getattr(sch, fold)(block)
            except ScheduleError as err:
                log.debug("%s not folded: %s", sch.get(block).name_hint,
                          str(err).splitlines()[0])
        return True

    def clone(self) -> Postproc:
        return InlineCopies()


def has_copies(mod: tvm.IRModule) -> bool:
    """Whether the template ``mod`` has a pass this postprocessor folds."""
    return bool(_folds(Schedule(mod)))


def _folds(sch: Schedule) -> list[tuple[str, SBlockRV]]:
    """The schedule primitive and block of each fold ``sch`` has to make."""
    names = block_names(sch.mod["main"])  # a sketch folded them already, or none is there
    wanted = ((EPILOGUE, "reverse_compute_inline", _after_copy),
              (PAD, "compute_inline", _pads_nothing))
    found = [(fold, sch.get_sblock(name), test) for name, fold, test in wanted if name in names]
    return [(fold, block) for fold, block, test in found if test(sch, block)]


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
