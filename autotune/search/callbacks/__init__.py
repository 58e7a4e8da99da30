"""Measure callbacks of the search: one small class a file."""
