"""Constant weights packed once: a kernel's weight-packing block split off its schedule.

A template with a ``weight_pack`` block (the channel-blocked conv2d variants) computes a
packed copy of its weights on every call. For a kernel deployed with known weights the
tuned schedule is split in two functions: ``pack`` (the template's packing block alone, run
once, taking the weights and writing the packed buffer) and ``packed`` (the tuned schedule
taking the packed buffer in place of the weights). Both compute exactly what the tuned
kernel computes: the packing block writes the buffer the rest only reads.

In ``packed`` the packing block stays where the schedule put it, as a plain copy from the
packed argument into the block's own buffer. The schedule often packs a slice of the
weights inside its parallel loop (``compute_at``), a buffer that TVM then allocates small
and local to each thread; read straight from an argument instead, the weights are a pointer
the parallel loop's closure captures, which LLVM must assume may alias the output, and a
tuned depthwise conv ran 3.6x slower (218 against 60 us, C=72 56x56 5x5 stride 2). The copy
costs what the schedule's packing cost less its index arithmetic and padding test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tvm
import tvm_ffi
from tvm import s_tir, tirx

from autotune.workload import Workload
from autotune.workload.template import TensorSpec, block_names


@dataclass(frozen=True)
class Prepack:
    """The two functions of a prepacked kernel and the packed buffer between them."""

    weight: int  # which input the packed buffer replaces
    packed: TensorSpec
    pack: tirx.PrimFunc  # (weights, packed)
    kernel: tirx.PrimFunc  # the inputs with ``packed`` for the weights, then the output

    def functions(self, symbol: str) -> dict[str, tirx.PrimFunc]:
        """The two functions under the names a library beside kernel ``symbol`` gives them."""
        names = self.symbols(symbol)
        return {names["pack"]: self.pack.with_attr("global_symbol", names["pack"]),
                names["kernel"]: self.kernel.with_attr("global_symbol", names["kernel"])}

    def entry(self, symbol: str) -> dict:
        """The manifest's ``prepack`` field of kernel ``symbol`` (read by ``Kernel.prepare``)."""
        return {"input": self.weight, "packed": self.packed.to_json(), **self.symbols(symbol)}

    @staticmethod
    def symbols(symbol: str) -> dict[str, str]:
        return {"pack": f"{symbol}_pack", "kernel": f"{symbol}_packed"}


def split(workload: Workload, scheduled: tvm.IRModule) -> Prepack | None:
    """``scheduled`` (the workload's tuned module) split into pack and packed kernel; None if
    the template packs no weights or the schedule has no packing block left (inlined)."""
    block = workload.template.weight_pack
    if block is None or block not in block_names(scheduled["main"]):
        return None
    weight = workload.template.weights[0]
    template = workload.prim_func()
    buffer = _written_by(template, block)
    func = scheduled["main"]
    tuned_buffer = next(b for b in _root(func).alloc_buffers if b.name == buffer.name)
    packed = tirx.decl_buffer(tuned_buffer.shape, tuned_buffer.dtype, f"{buffer.name}_packed")
    params = list(func.params)
    params[weight] = packed
    kernel = _copying(func, block, packed, params)
    pack = _keep(template, lambda name: name == block, [template.params[weight], buffer],
                 drop={b.name for b in _root(template).alloc_buffers})
    spec = TensorSpec(tuple(int(d) for d in buffer.ty.shape), str(buffer.ty.dtype))
    return Prepack(weight, spec, pack, kernel)


def _copying(func: tirx.PrimFunc, block: str, packed, params: list) -> tirx.PrimFunc:
    """``func`` taking ``params``, its ``block`` copying ``packed`` into the buffer that
    block wrote, element for element, where it computed it (see the module)."""

    def copy(node):
        if node.name_hint != block:
            return node
        store = node.body
        while not isinstance(store, tirx.BufferStore):  # past a tail's if, if any
            store = store.then_case if isinstance(store, tirx.IfThenElse) else store.body
        region = node.writes[0].region
        body = tirx.BufferStore(store.buffer, tirx.BufferLoad(packed, store.indices),
                                store.indices)
        return s_tir.SBlock(node.iter_vars, [tirx.BufferRegion(packed, region)], node.writes,
                            node.name_hint, body, node.init, node.alloc_buffers,
                            node.match_buffers, node.annotations)

    body = tvm_ffi.structural_map(func.body, [(s_tir.SBlock, copy)])
    return tirx.PrimFunc(params, body, func.ret_type, func.attrs)


def _root(func: tirx.PrimFunc) -> s_tir.SBlock:
    return func.body.block


def _written_by(func: tirx.PrimFunc, block: str):
    """The root-allocated buffer that ``block`` writes."""
    names = []
    tvm_ffi.structural_map(func.body, [(s_tir.SBlock, lambda b: (
        names.append(b.writes[0].source.name) if b.name_hint == block else None) or b)])
    return next(b for b in _root(func).alloc_buffers if b.name == names[0])


def _is_noop(stmt) -> bool:
    return isinstance(stmt, tirx.Evaluate) and isinstance(stmt.value, tirx.IntImm)


def _keep(func: tirx.PrimFunc, keep: Callable[[str], bool], params: list, drop: set[str]):
    """``func`` with only the blocks ``keep`` names (and the loops around them), taking
    ``params``, without the root allocations named in ``drop``."""

    def realize(node):
        name = node.block.name_hint
        return node if name == "root" or keep(name) else tirx.Evaluate(0)

    def loop(node):
        return tirx.Evaluate(0) if _is_noop(node.body) else node

    def seq(node):
        rest = [s for s in node.seq if not _is_noop(s)]
        return tirx.Evaluate(0) if not rest else rest[0] if len(rest) == 1 else tirx.SeqStmt(rest)

    def root(node):
        if node.name_hint != "root":
            return node
        return s_tir.SBlock(node.iter_vars, node.reads, node.writes, node.name_hint, node.body,
                            node.init, [b for b in node.alloc_buffers if b.name not in drop],
                            node.match_buffers, node.annotations)

    body = tvm_ffi.structural_map(func.body, [(s_tir.SBlockRealize, realize), (tirx.For, loop),
                                              (tirx.SeqStmt, seq), (s_tir.SBlock, root)])
    return tirx.PrimFunc(params, body, func.ret_type, func.attrs)
