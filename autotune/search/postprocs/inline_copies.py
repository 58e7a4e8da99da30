"""Fold a template's copy passes into the blocks next to them, in every candidate.

The layout variants write their result in their own layout and copy it out (``unpack``,
``unflatten``, ``crop``), and a conv with an epilogue computes the epilogue in a block of
its own; a conv without padding still copies its input through ``pad``. MetaSchedule's
CPU rules inline neither: ``AutoInline`` does not inline into producers on CPUs (so the
epilogue stays a pass of its own after the copy-out), and it leaves a ``pad`` whose body
is an ``if_then_else``. Each such block is one more pass over a whole tensor: on a tuned
pointwise conv (C=64 14x14 K=384, bias+relu6), inlining the two after the search made
three top schedules 8-23% faster. The hand-written sketches fold them already
(``register_tiles.write_tile_through``); this postprocessor does it for every candidate
the search measures, the generic spaces' and those carried over from other logs alike:

- ``epilogue``: computed in the block that produces its input where that block is a copy
  (only spatial iterators); a conv writing its result straight (NCHW) keeps it, fused
  into the conv's tile by ``MultiLevelTiling``;
- ``pad`` of a tensor into a buffer of the same shape (no padding): inlined into its
  consumer, which then reads the input itself.

A postprocessor's steps are part of the candidate's trace, so a record replays from its
log with them, and records made before it still replay as they were.
"""

from __future__ import annotations

from tvm import tirx
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.postproc import Postproc, PyPostproc
from tvm.s_tir.schedule import SBlockRV, Schedule, ScheduleError

from autotune.workload.template import block_names

EPILOGUE, PAD = "epilogue", "pad"


@derived_object
class InlineCopies(PyPostproc):
    """Inline the epilogue into a copy-out block and a padding that pads nothing."""

    def _initialize_with_tune_context(self, context) -> None:
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
                except ScheduleError:
                    pass  # left as it was: a correct candidate either way
        return True

    def clone(self) -> Postproc:
        return InlineCopies()


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
