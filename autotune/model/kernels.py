"""Which Relax calls are workloads, and splicing kernels for them into the graph.

A ``relax.nn.conv2d`` (NCHW data, OIHW weights, symmetric padding) and a 2-D ``relax.matmul``
map to the ``conv2d`` and ``gemm`` templates; a conv2d followed by its bias, residual add
and activation maps to one conv2d workload with that ``epilogue`` (``epilogues.py``), whose
kernel replaces the whole chain. Legalization replaces each other mapped call with a
``call_tir`` to the kernel chosen for its workload; every other op, and a mapped op with no
kernel given, gets TVM's own legalization. Spliced kernels are marked opaque so Relax's
operator fusion leaves them whole; the ops around them still fuse with each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import tvm
from tvm import relax

from autotune.errors import ModelError, last_line
from autotune.measure.prepack import Prepack
from autotune.model.epilogues import find_chains
from autotune.workload import Workload

Kernel = tvm.tirx.PrimFunc | Prepack  # a workload's tuned kernel, as splice takes it
OPAQUE = 8  # tvm.relax's OpPatternKind.kOpaque
MAPPED_OPS = ("relax.nn.conv2d", "relax.matmul")


@dataclass
class Mapping:
    """The model's mapped calls: workloads in graph order, how many calls each computes,
    and the calls left to TVM."""

    workloads: list[Workload] = field(default_factory=list)
    counts: dict[Workload, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "<op>: <reason>"


def _shape(expr) -> tuple[int, ...] | None:
    shape = getattr(expr.ty, "shape", None)
    if shape is None:
        return None
    try:
        return tuple(int(d) for d in shape)
    except TypeError:  # symbolic dimension
        return None


def workload_of(call: relax.Call) -> Workload | str:
    """The workload computing ``call``, or the reason there is none."""
    shapes = [_shape(arg) for arg in call.args]
    if any(s is None for s in shapes):
        return "dynamic shape"
    dtypes = {str(arg.ty.dtype) for arg in call.args}
    if len(dtypes) != 1:
        return f"mixed dtypes {sorted(dtypes)}"
    dtype = dtypes.pop()
    out_dtype = str(call.attrs.out_dtype or "") if hasattr(call.attrs, "out_dtype") else ""
    if out_dtype not in ("", "void", dtype):
        return f"output dtype {out_dtype} differs from input dtype {dtype}"
    name = call.op.name
    if name == "relax.nn.conv2d":
        return _conv2d(call, shapes, dtype)
    if name == "relax.matmul":
        (m, k), (k2, n) = (shapes[0], shapes[1]) if all(len(s) == 2 for s in shapes) else ((0, 0), (1, 0))
        if k != k2:
            return "not a 2-D matmul"
        return Workload("gemm", m=m, n=n, k=k, dtype=dtype)
    return f"no template for {name}"


def _conv2d(call: relax.Call, shapes, dtype: str) -> Workload | str:
    a = call.attrs
    layouts = (str(a.data_layout), str(a.kernel_layout), str(a.out_layout))
    if layouts != ("NCHW", "OIHW", "NCHW"):
        return f"layout {'/'.join(layouts)} (the template is NCHW/OIHW)"
    top, left, bottom, right = (int(p) for p in a.padding)
    if (top, left) != (bottom, right):
        return f"asymmetric padding {[top, left, bottom, right]}"
    (n, c, h, w), (k, _, kh, kw) = shapes
    return Workload("conv2d", n=n, c=c, h=h, w=w, k=k, kh=kh, kw=kw,
                    stride=tuple(int(s) for s in a.strides), padding=(top, left),
                    dilation=tuple(int(d) for d in a.dilation), groups=int(a.groups),
                    dtype=dtype)


def _legalize_map(on_call: Callable[[relax.BlockBuilder, relax.Call], relax.Expr | None]) -> dict:
    def legalize(bb: relax.BlockBuilder, call: relax.Call) -> relax.Expr:
        replaced = on_call(bb, call)
        if replaced is not None:
            return replaced
        return tvm.ir.Op.get(call.op.name).get_attr("FLegalize")(bb, call)

    return {op: legalize for op in MAPPED_OPS}


def _folded(mod: tvm.IRModule) -> tvm.IRModule:
    """``mod`` with its constant subexpressions (a bias's reshape, clip bounds) folded;
    ModelError where TVM cannot (a tensor whose shape it could not infer, for one)."""
    try:
        return relax.transform.FoldConstant()(mod)
    except Exception as err:  # TVM raises assertion and internal errors alike
        raise ModelError(f"TVM cannot fold the model's constants: {last_line(err)}") from None


def _bindings(mod: tvm.IRModule):
    for _gvar, func in mod.functions_items():
        if isinstance(func, relax.Function) and isinstance(func.body, relax.SeqExpr):
            for block in func.body.blocks:
                yield from block.bindings


def map_workloads(mod: tvm.IRModule, epilogues: bool = True) -> Mapping:
    """The workloads of every conv2d and matmul in ``mod``, each once, in graph order, with
    the number of calls each computes; with ``epilogues``, a conv and the epilogue after
    it are one workload."""
    mod = _folded(mod)
    chains = {chain.members[0]: chain for chain in find_chains(mod).values()} if epilogues else {}
    found = Mapping()
    for binding in _bindings(mod):
        call = binding.value
        if not (isinstance(call, relax.Call) and isinstance(call.op, tvm.ir.Op)
                and call.op.name in MAPPED_OPS):
            continue
        wl = workload_of(call)
        if not isinstance(wl, Workload):
            found.skipped.append(f"{call.op.name}: {wl}")
            continue
        if binding.var in chains:
            wl = chains[binding.var].workload(wl)
        if wl not in found.counts:
            found.workloads.append(wl)
        found.counts[wl] = found.counts.get(wl, 0) + 1
    return found


def splice(mod: tvm.IRModule, kernels: dict[Workload, Kernel],
           epilogues: bool = True) -> tvm.IRModule:
    """Legalize ``mod`` with ``kernels[workload]`` for each mapped call (or, with
    ``epilogues``, each conv and its epilogue) that has one: a PrimFunc, or a ``Prepack``
    (its packing step and the kernel that takes packed weights)."""
    mod = _folded(mod)
    if epilogues:
        mod = _fuse_chains(mod, kernels)

    def replace(bb: relax.BlockBuilder, call: relax.Call):
        wl = workload_of(call)
        if not isinstance(wl, Workload) or wl not in kernels:
            return None
        return kernel_call(bb, wl, kernels[wl], list(call.args), call.ty)

    return relax.transform.LegalizeOps(_legalize_map(replace))(mod)


def kernel_call(bb: relax.BlockBuilder, wl: Workload, kernel: Kernel, args: list,
                ty) -> relax.Call:
    """The ``call_tir`` of ``kernel`` for workload ``wl`` on ``args``; a prepacked kernel's
    packing step is emitted before it, as a call of its own on the weights (which
    constant folding then evaluates once where they are constants)."""
    if isinstance(kernel, Prepack):
        pack = bb.add_func(_opaque(kernel.pack), f"{wl.symbol}_pack")
        packed = relax.TensorType(kernel.packed.shape, kernel.packed.dtype)
        args = list(args)
        args[kernel.weight] = bb.emit(relax.call_tir(pack, [args[kernel.weight]], packed))
        kernel = kernel.kernel
    return relax.call_tir(bb.add_func(_opaque(kernel), wl.symbol), args, ty)


def _opaque(func: tvm.tirx.PrimFunc) -> tvm.tirx.PrimFunc:
    return func.without_attr("global_symbol").with_attr("op_pattern", OPAQUE)


def _fuse_chains(mod: tvm.IRModule, kernels: dict[Workload, Kernel]) -> tvm.IRModule:
    """Each conv + epilogue chain whose workload has a kernel, as one call of it."""
    chains = {}
    for final, chain in find_chains(mod).items():
        wl = workload_of(chain.conv)
        if isinstance(wl, Workload) and chain.workload(wl) in kernels:
            chains[final] = (chain, chain.workload(wl))
    if not chains:
        return mod
    members = {var for chain, _wl in chains.values() for var in chain.members}

    @relax.expr_functor.mutator
    class Fuser(relax.PyExprMutator):
        def visit_var_binding_(self, binding: relax.VarBinding) -> None:
            if binding.var in members:
                return  # computed inside the fused kernel
            if binding.var not in chains:
                super().visit_var_binding_(binding)
                return
            chain, wl = chains[binding.var]
            call = self.builder_.normalize(kernel_call(
                self.builder_, wl, kernels[wl], chain.args(self.visit_expr), binding.var.ty))
            self.builder_.emit_normalized(relax.VarBinding(binding.var, call))

    fuser = Fuser(mod)
    for gvar, func in mod.functions_items():
        if isinstance(func, relax.Function):
            fuser.builder_.update_func(gvar, fuser.visit_expr(func))
    return relax.transform.DeadCodeElimination()(fuser.builder_.get())
