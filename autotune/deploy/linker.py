"""The linker that turns a target's object code into a shared library on this machine."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import tvm
from tvm.support.cc import cross_compiler

from autotune.errors import PackageError, first_line
from autotune.hardware.target import host_arch, target_arch


def linker_for(target: tvm.target.Target) -> Callable | None:
    """``fcompile`` for ``export_library``: None (TVM's default, this machine's C++
    compiler) for code of this machine's architecture, a cross compiler found on PATH for
    another one (``<triple>-g++``); PackageError saying what to install if there is none."""
    arch, here = target_arch(target), host_arch()
    if arch == here:
        return None
    triple = str((target.host or target).attrs.get("mtriple"))
    for name in dict.fromkeys((f"{triple}-g++", f"{arch}-linux-gnu-g++")):
        if shutil.which(name):
            return cross_compiler(name)
    raise PackageError(
        f"cannot link a library for {triple} on this {here} machine: install a cross "
        f"compiler ({arch}-linux-gnu-g++) or export on the target machine itself")


def link_failure(err: Exception, library: Path) -> PackageError:
    """One line for a failed link (a full disk, a foreign object file): the linker's own
    error line rather than TVM's multi-line report."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    reason = next((ln for ln in lines if "No space left on device" in ln), None) \
        or next((ln for ln in lines if "error" in ln.lower() and "Compilation error" not in ln),
                first_line(err))
    return PackageError(f"cannot write {library}: {reason}")
