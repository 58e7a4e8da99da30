"""A conv's epilogue in the graph: the bias, residual add and activation that follow it.

An exported network computes ``relu(conv(x, w) + b + r)`` as separate Relax calls; each
would be a pass over the conv's output. ``find_chains`` finds, in each dataflow block, a
``relax.nn.conv2d`` with constant weights followed by a chain of single-use calls among:

- ``add`` of a constant shaped (1, k, 1, 1) or (k, 1, 1): the bias (``bias``);
- ``add`` of a tensor shaped like the output: a residual (``add``);
- ``nn.relu``, ``clip(0, inf)``, ``maximum`` with 0 (``relu``); ``clip(0, 6)`` or
  ``maximum`` with 0 then ``minimum`` with 6 (``relu6``), as the ONNX frontend writes Clip
  (a ``call_tir`` of a one-block max or min with a scalar constant) or as Relax ops;
  ``multiply(x, sigmoid(x))`` (``silu``), where ``x`` is the chain's end and the sigmoid
  feeds the multiply alone; ``multiply(x, clip(x + 3, 0, 6) / 6)`` (``hardswish``, as the
  ONNX frontend writes HardSwish), each call between feeding the next alone.

Each chain becomes one conv2d workload with that ``epilogue``; ``kernels.splice``
replaces the chain's calls by one ``call_tir`` of its kernel. Run ``FoldConstant`` first, so that the bias and
the clip bounds are constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tvm
import tvm_ffi
from tvm import relax, tirx

from autotune.kernels.conv2d import ACTIVATIONS
from autotune.workload import Workload

TENSOR_CONST = tvm.ir.GenericConst  # a Relax tensor constant (``relax.const``)
BUFFER_LOAD = tvm.ir.expr.TensorLoad  # what tirx.BufferLoad makes


@dataclass
class Chain:
    """A conv2d call and the epilogue calls after it, ending in ``final``'s binding."""

    conv: relax.Call
    final: relax.Var
    steps: list[str] = field(default_factory=list)
    bias: np.ndarray | None = None  # (k,)
    residual: relax.Expr | None = None
    members: list[relax.Var] = field(default_factory=list)  # bindings the fused call replaces

    @property
    def activated(self) -> bool:
        """Whether the chain has its activation (a chain takes one)."""
        return any(s in ACTIVATIONS for s in self.steps)

    def workload(self, conv: Workload) -> Workload:
        """``conv`` (the conv2d call's workload) with this chain's epilogue."""
        return Workload(conv.kernel, **{**conv.params, "epilogue": "+".join(self.steps)})

    def args(self, remap=lambda e: e) -> list[relax.Expr]:
        """The fused kernel's arguments: data, weights, then bias and residual if any."""
        args = [remap(self.conv.args[0]), self.conv.args[1]]
        if self.bias is not None:
            args.append(relax.const(self.bias))
        if self.residual is not None:
            args.append(remap(self.residual))
        return args


def find_chains(mod: tvm.IRModule) -> dict[relax.Var, Chain]:
    """Every conv2d with an epilogue, by the var its chain ends in."""
    chains: dict[relax.Var, Chain] = {}
    for _gvar, func in mod.functions_items():
        if not isinstance(func, relax.Function) or not isinstance(func.body, relax.SeqExpr):
            continue
        for block in func.body.blocks:
            if isinstance(block, relax.DataflowBlock):
                for chain in _block_chains(mod, block):
                    chains[chain.final] = chain
    return chains


def _block_chains(mod: tvm.IRModule, block: relax.DataflowBlock) -> list[Chain]:
    """The chains of ``block``'s convs, in graph order. Where two convs' chains meet (a
    residual block's two branches joined by an add), the later conv's chain takes the
    join and the earlier one's stops before it, keeping its own bias."""
    users = {var: list(uses) for var, uses in relax.analysis.udchain(block).items()}
    values = {b.var: b.value for b in block.bindings if isinstance(b, relax.VarBinding)}
    claimed: set[relax.Var] = set()
    found = []
    for var, value in reversed(values.items()):
        if not (_is_op(value, "relax.nn.conv2d") and isinstance(value.args[1], TENSOR_CONST)):
            continue
        chain = Chain(conv=value, final=var)
        shape = _shape(var)
        while isinstance(chain.final, relax.DataflowVar):
            uses = users.get(chain.final, [])
            name, taken = _swish(mod, uses, values, users, chain)
            if taken and not claimed.intersection(taken):
                chain.steps.append(name)
                chain.members.extend([chain.final, *taken[:-1]])
                chain.final = taken[-1]
                continue
            if len(uses) != 1 or uses[0] in claimed:
                break
            step = _step(mod, values.get(uses[0]), chain, shape)
            if step is None:
                break
            chain.members.append(chain.final)
            chain.final = uses[0]
        if chain.steps:
            claimed.update([*chain.members[1:], chain.final])
            found.append(chain)
    return found[::-1]


def _step(mod, value, chain: Chain, shape) -> bool | None:
    """Take ``value`` (the one user of the chain's end) into ``chain``; None if it is not
    an epilogue step the chain can take next."""
    if value is None:
        return None
    cur, steps, activated = chain.final, chain.steps, chain.activated
    if _is_op(value, "relax.add") and len(value.args) == 2:
        a, b = value.args
        other = b if a.same_as(cur) else a if b.same_as(cur) else None
        if other is None or other.same_as(cur):
            return None
        other_shape = _shape(other)
        if isinstance(other, TENSOR_CONST) and "bias" not in steps and shape and \
                other_shape in ((1, shape[1], 1, 1), (shape[1], 1, 1)) and _same_dtype(other, cur):
            steps.append("bias")
            chain.bias = other.value.numpy().reshape(shape[1])
            return True
        if "add" not in steps and other_shape == shape and _same_dtype(other, cur):
            steps.append("add")
            chain.residual = other
            return True
        return None
    bound = _activation(mod, value, cur)
    if bound is None:
        return None
    low, high = bound
    if low == 0 and high == np.inf and not activated:
        steps.append("relu")
        return True
    if low == 0 and high == 6 and not activated:
        steps.append("relu6")
        return True
    if low == -np.inf and high == 6 and steps and steps[-1] == "relu":  # max(., 0) then min(., 6)
        steps[-1] = "relu6"
        return True
    return None


def _swish(mod, uses, values, users, chain: Chain) -> tuple[str, list[relax.Var]]:
    """The activation that multiplies the chain's end by a function of itself (``silu`` or
    ``hardswish``) and the bindings it takes, ending in its result; ``("", [])`` if none, or
    where the chain already has its activation. The end then has exactly two users."""
    if len(uses) != 2 or chain.activated:
        return "", []
    for name, match in (("silu", _silu), ("hardswish", _hardswish)):
        taken = match(mod, uses, values, users, chain)
        if taken:
            return name, taken
    return "", []


def _silu(mod, uses, values, users, chain: Chain) -> list[relax.Var] | None:
    """``[s, y]`` where the chain's end ``x`` has two users, ``s = sigmoid(x)`` and
    ``y = x * s``, and ``s`` is used by ``y`` alone (SiLU as an ONNX export writes it); None
    otherwise."""
    cur = chain.final
    for s, y in (uses, uses[::-1]):
        sig = values.get(s)
        if _is_op(sig, "relax.sigmoid") and sig.args[0].same_as(cur) \
                and _multiplies(values.get(y), cur, s) and _only_user(users, s, y):
            return [s, y]
    return None


def _hardswish(mod, uses, values, users, chain: Chain) -> list[relax.Var] | None:
    """``[a, c, d, y]`` where the chain's end ``x`` has two users, ``a = x + 3`` and
    ``y = x * d``, with ``c = clip(a, 0, 6)`` and ``d = c / 6`` (or ``c * (1/6)``) between,
    each used by the next alone (HardSwish as the ONNX frontend writes it); None otherwise."""
    cur = chain.final
    for a, y in (uses, uses[::-1]):
        if not (_is_op(values.get(a), "relax.add") and _other_scalar(values[a], cur) == 3):
            continue
        c = _single_user(users, a)
        if c is None or _activation(mod, values.get(c), a) != (0, 6):
            continue
        d = _single_user(users, c)
        if _sixth(values.get(d), c) and _multiplies(values.get(y), cur, d) \
                and _only_user(users, d, y):
            return [a, c, d, y]
    return None


def _sixth(value, x) -> bool:
    """Whether ``value`` is ``x / 6`` or ``x * (1/6)``."""
    if _is_op(value, "relax.divide"):
        return value.args[0].same_as(x) and _scalar(value.args[1]) == 6
    factor = _other_scalar(value, x) if _is_op(value, "relax.multiply") else None
    return factor is not None and bool(np.isclose(factor, 1 / 6, rtol=1e-6))


def _multiplies(value, x, y) -> bool:
    """Whether ``value`` is ``x * y`` (either order)."""
    if not _is_op(value, "relax.multiply"):
        return False
    a, b = value.args
    return (a.same_as(x) and b.same_as(y)) or (a.same_as(y) and b.same_as(x))


def _single_user(users, var) -> relax.Var | None:
    """The one binding that uses dataflow var ``var``, or None."""
    uses = users.get(var, []) if isinstance(var, relax.DataflowVar) else []
    return uses[0] if len(uses) == 1 else None


def _only_user(users, var, user) -> bool:
    found = _single_user(users, var)
    return found is not None and found.same_as(user)


def _other_scalar(value, var) -> float | None:
    """The scalar constant ``value`` (a binary call with ``var``) combines ``var`` with."""
    a, b = value.args[:2]
    other = b if a.same_as(var) else a if b.same_as(var) else None
    return None if other is None else _scalar(other)


def _activation(mod, value, cur) -> tuple[float, float] | None:
    """(low, high) if ``value`` clamps ``cur`` to [low, high] (either may be infinite)."""
    if not isinstance(value, relax.Call) or not value.args:
        return None
    if not value.args[0].same_as(cur) and not _is_op(value, "relax.call_tir"):
        return None
    if _is_op(value, "relax.nn.relu"):
        return 0.0, np.inf
    if _is_op(value, "relax.clip") and len(value.args) == 3:
        lo, hi = (_prim_value(a) for a in value.args[1:])
        if lo is None or hi is None:
            return None
        top = float(np.finfo(str(cur.ty.dtype)).max)
        return (-np.inf if lo <= -top else lo), (np.inf if hi >= top else hi)
    kind = None
    if _is_op(value, "relax.maximum") or _is_op(value, "relax.minimum"):
        kind, scalar = value.op.name.split(".")[-1][:3], value.args[1]
    elif _is_op(value, "relax.call_tir") and isinstance(value.args[1], relax.Tuple) \
            and len(value.args[1].fields) == 2 and value.args[1].fields[0].same_as(cur):
        func = mod[value.args[0]] if value.args[0] in mod.get_global_vars() else None
        kind, scalar = _scalar_binary(func), value.args[1].fields[1]
    bound = _scalar(scalar) if kind else None
    if bound is None:
        return None
    return (bound, np.inf) if kind == "max" else (-np.inf, bound)


def _scalar_binary(func) -> str | None:
    """"max" or "min" if ``func`` is one block ``out[i] = max(a[i], s[()])`` (or min)."""
    if not isinstance(func, tirx.PrimFunc) or len(func.params) != 3:
        return None
    a, s = func.params[:2]  # a PrimFunc's parameters are its buffers
    if len(s.shape) != 0:
        return None
    stores: list[tirx.BufferStore] = []
    tvm_ffi.structural_map(func.body, [(tirx.BufferStore, lambda n: stores.append(n) or n)])
    if len(stores) != 1:
        return None
    op = stores[0].value
    kinds = {tirx.Max: "max", tirx.Min: "min"}
    if type(op) not in kinds or not all(isinstance(x, BUFFER_LOAD) for x in (op.a, op.b)):
        return None
    if op.a.source.same_as(a) and op.b.source.same_as(s):
        return kinds[type(op)]
    return None


def _is_op(value, name: str) -> bool:
    return isinstance(value, relax.Call) and isinstance(value.op, tvm.ir.Op) and value.op.name == name


def _shape(expr) -> tuple[int, ...] | None:
    shape = getattr(expr.ty, "shape", None)
    try:
        return None if shape is None else tuple(int(d) for d in shape)
    except TypeError:
        return None


def _same_dtype(a, b) -> bool:
    return str(a.ty.dtype) == str(b.ty.dtype)


def _scalar(expr) -> float | None:
    if isinstance(expr, TENSOR_CONST) and expr.value.numpy().size == 1:
        return float(expr.value.numpy().reshape(()))
    return _prim_value(expr)


def _prim_value(expr) -> float | None:
    """A scalar argument's value (``clip``'s bounds are IntImm or FloatImm)."""
    if isinstance(expr, (tirx.IntImm, tirx.FloatImm)):
        return float(expr.value)
    return None
