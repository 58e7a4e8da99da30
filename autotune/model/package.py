"""Load a model package: checksum and CPU checks, then NumPy-in NumPy-out inference.

Imports only the TVM runtime (and Relax's virtual machine): no tuning code is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tvm
from tvm import relax

from autotune.deploy.manifest import open_package
from autotune.deploy.package import native_stderr_silenced
from autotune.errors import PackageError


class ModelPackage:
    """A loaded model: ``pkg(*inputs)`` returns the outputs; ``pkg.manifest`` the provenance.

    What is copied: every input once onto the device (the compiled graph assumes TVM's
    64-byte aligned buffers, which a NumPy array rarely is), and every output once back
    into a new NumPy array. For a CNN at 224x224 that is well under 1% of a call; the
    benchmarks time this call, copies included (``autotune.model.compare``)."""

    def __init__(self, module, inputs: list[dict], dev, path: Path | None = None,
                 manifest: dict | None = None) -> None:
        self.path = path
        self.manifest = manifest or {}
        self.dev = dev
        self.module = module  # what a Relax VirtualMachine runs (library or executable)
        self.inputs = [(i["name"], tuple(i["shape"]), i["dtype"]) for i in inputs]
        self.vm = relax.VirtualMachine(module, dev)
        self._main = self.vm["main"]

    @property
    def tuned_symbols(self) -> list[str]:
        """The symbols of the package's tuned kernels (the others are TVM's own)."""
        return [e["symbol"] for e in self.manifest.get("kernels", []) if e["schedule"] == "tuned"]

    @property
    def tuning_seconds(self) -> dict[str, float]:
        """Seconds per call each kernel's search measured, by symbol (NaN where none did)."""
        return {e["symbol"]: e.get("tuning_latency_s") or float("nan")
                for e in self.manifest.get("kernels", [])}

    def tensors(self, arrays: tuple[Any, ...]) -> list[tvm.runtime.Tensor]:
        """Check ``arrays`` against the model's inputs and place them on the device."""
        if len(arrays) != len(self.inputs):
            raise PackageError(f"the model takes {len(self.inputs)} inputs, got {len(arrays)}")
        tensors = []
        for (name, shape, dtype), array in zip(self.inputs, arrays):
            if not isinstance(array, np.ndarray) and hasattr(array, "__dlpack__"):
                array = np.from_dlpack(array)
            array = np.ascontiguousarray(array)
            if (array.shape, str(array.dtype)) != (shape, dtype):
                raise PackageError(f"input {name!r} must be {dtype}{list(shape)}, "
                                   f"got {array.dtype}{list(array.shape)}")
            tensors.append(tvm.runtime.tensor(array, self.dev))
        return tensors

    def __call__(self, *arrays: Any) -> list[np.ndarray]:
        result = self._main(*self.tensors(arrays))
        if isinstance(result, tvm.runtime.Tensor):
            return [result.numpy()]
        return [r.numpy() for r in result]


def load_model_package(path: str | Path) -> ModelPackage:
    """Verify and load a package written by ``build_model``."""
    path, manifest, library, dev = open_package(path)
    if manifest.get("kind") != "model":
        raise PackageError(f"{path} holds kernels, not a model: load it with autotune.load_package")
    with native_stderr_silenced():  # TVM logs one empty "Scope Loaded" line per function
        module = tvm.runtime.load_module(str(library))
    return ModelPackage(module, manifest["model"]["inputs"], dev, path, manifest)
