"""Compile CPU kernels that accept arrays aligned to their element size, not to 64 bytes.

TVM declares every argument buffer 64-byte aligned and tells LLVM so (``storage_alignment``
in the packed-API prologue), so LLVM may emit aligned vector loads that fault on other
addresses. NumPy's allocator gives 16-byte aligned memory (a new array is rarely 64-byte
aligned), so a caller would have to copy every array before the call. Kernels built here
promise LLVM only the element alignment of each argument: any C-contiguous NumPy array can
be passed without a copy. On the x86 cores measured here, unaligned vector loads of aligned
data cost the same as aligned ones.

``compile_kernels`` is the one way this project compiles TIR kernels: tuning candidates,
timed kernels and exported packages are the same code.
"""

from __future__ import annotations

import tvm
import tvm_ffi
from tvm.tirx import AttrStmt, IntImm
from tvm.tirx.compilation_pipeline import get_tir_pipeline, register_tir_pipeline

PIPELINE = "autotune_element_aligned"
STORAGE_ALIGNMENT = "storage_alignment"


def _element_aligned(stmt):
    """The ``storage_alignment`` hint of an argument lowered to its element size."""
    if stmt.attr_key != STORAGE_ALIGNMENT:
        return stmt
    dtype = getattr(getattr(stmt.node, "ty", None), "dtype", None)  # a buffer's element type
    if dtype is None:
        return stmt
    bytes_ = max(1, tvm.DataType(str(dtype)).bits // 8)
    if int(stmt.value) <= bytes_:
        return stmt
    return AttrStmt(stmt.node, stmt.attr_key, IntImm("int32", bytes_), stmt.body, stmt.span)


@tvm.tirx.transform.prim_func_pass(opt_level=0, name="ElementAlignedArguments")
def element_aligned_arguments(func, _mod, _ctx):
    """Lower the alignment promised for argument buffers to their element size."""
    return func.with_body(tvm_ffi.structural_map(func.body, [(AttrStmt, _element_aligned)]))


def _pipeline():
    lower, finalize_host, finalize_device = get_tir_pipeline("s_tir")
    return tvm.transform.Sequential([lower, element_aligned_arguments]), finalize_host, finalize_device


register_tir_pipeline(PIPELINE, _pipeline)


def compile_kernels(mod: tvm.IRModule, target: tvm.target.Target):
    """``tvm.compile`` for kernels; on CPUs the arguments need only element alignment."""
    if target.kind.name == "llvm":
        return tvm.compile(mod, target=target, tir_pipeline=PIPELINE)
    return tvm.compile(mod, target=target)


def input_alignment(target: tvm.target.Target) -> int:
    """Bytes of alignment a kernel built by ``compile_kernels`` needs of its arguments
    (0: the element size); GPU kernels keep TVM's 64."""
    return 0 if target.kind.name == "llvm" else 64
