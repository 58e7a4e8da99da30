"""Postprocessors the search adds to the target's defaults: one small class a file."""

from autotune.search.postprocs.inline_copies import InlineCopies, has_copies

__all__ = ["InlineCopies", "has_copies"]
