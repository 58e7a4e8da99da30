"""Postprocessors the search adds to the target's defaults: one small class a file."""

from autotune.search.postprocs.inline_copies import InlineCopies

__all__ = ["InlineCopies"]
