"""Register only the tensor intrinsics a target can use, not all of TVM's.

MetaSchedule's ``TuneContext`` imports ``tvm.s_tir.tensor_intrin``, whose ``__init__``
parses the TVMScript intrinsics of every backend (CUDA alone takes ~15 s, all ~20 s on
this project's 2-core machines) before the first trial. The schedule rules for a target
only look up that target's intrinsics (e.g. x86 VNNI dot products), so the package is put
in ``sys.modules`` without running its ``__init__`` and only the target's submodules are
imported. Another submodule can still be imported by name later; it registers as usual.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import types

import tvm

PACKAGE = "tvm.s_tir.tensor_intrin"


def submodules_for(target: tvm.target.Target) -> list[str]:
    """The intrinsic modules whose rules can apply to ``target``."""
    kind = target.kind.name
    if kind == "llvm":
        arch = str(target.attrs.get("mtriple", "") or platform.machine()).split("-")[0]
        if arch.startswith(("aarch64", "arm")):
            return ["arm_cpu"]
        if arch.startswith("riscv"):
            return ["riscv_cpu"]
        return ["x86"]
    return {"cuda": ["cuda"], "rocm": ["rocm"], "hexagon": ["hexagon"]}.get(kind, [])


def load_tensor_intrinsics(target: tvm.target.Target) -> None:
    """Import the intrinsics ``target`` needs; a no-op once the full package is loaded."""
    if PACKAGE not in sys.modules:
        import tvm.s_tir  # pylint: disable=import-outside-toplevel

        package = types.ModuleType(PACKAGE, "Tensor intrinsics, loaded per target by autotune.")
        package.__path__ = [os.path.join(os.path.dirname(tvm.s_tir.__file__), "tensor_intrin")]
        package.__package__ = PACKAGE
        sys.modules[PACKAGE] = package
        tvm.s_tir.tensor_intrin = package
    for name in submodules_for(target):
        importlib.import_module(f"{PACKAGE}.{name}")
