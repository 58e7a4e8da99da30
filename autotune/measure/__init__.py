"""Compile, validate and time kernels and baselines with one protocol."""
