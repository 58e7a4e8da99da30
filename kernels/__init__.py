"""Kernel templates: one module per kernel, each exposing ``TEMPLATE`` (a KernelTemplate)."""
