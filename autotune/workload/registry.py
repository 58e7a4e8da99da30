"""Finds kernel templates: every module in the ``kernels`` package that defines ``TEMPLATE``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import autotune.kernels as kernels
from autotune.errors import WorkloadError
from autotune.workload.template import KernelTemplate


@cache
def templates() -> dict[str, KernelTemplate]:
    """All kernel templates by name, in name order."""
    found: dict[str, KernelTemplate] = {}
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"autotune.kernels.{info.name}")
        template = getattr(module, "TEMPLATE", None)
        if isinstance(template, KernelTemplate):
            found[template.name] = template
    return dict(sorted(found.items()))


def get_template(name: str) -> KernelTemplate:
    """The template called ``name``, or a WorkloadError listing the known ones."""
    try:
        return templates()[name]
    except KeyError:
        raise WorkloadError(
            f"unknown kernel {name!r}; known kernels: {', '.join(templates())}"
        ) from None


def variants_of(name: str) -> list[KernelTemplate]:
    """Layout variants of template ``name`` (same arguments, other internal layout)."""
    return [t for t in templates().values() if t.variant_of == name]
