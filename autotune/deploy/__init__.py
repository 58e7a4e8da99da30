"""Deployment packages: built from logs alone (``deploy.export``), loaded with no tuning
code (``load_package``: this package imports only the TVM runtime and NumPy)."""

from autotune.deploy.package import Kernel, Package, load_package

__all__ = ["Kernel", "Package", "load_package"]
