"""Load a deployment package: checksum, architecture check, NumPy-in NumPy-out callables.

Imports only the TVM runtime and target helpers: no tuning code is loaded or run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tvm

from .errors import PackageError

LIBRARY = "kernels.so"
MANIFEST = "manifest.json"


def required_cpu_features(target: tvm.target.Target) -> list[str]:
    """LLVM CPU features the code built for ``target`` may use (host side for GPU targets)."""
    cpu = target.host if target.kind.name != "llvm" and target.host else target
    if cpu is None or cpu.kind.name != "llvm":
        return []
    from tvm.target.codegen import llvm_get_cpu_features  # pylint: disable=import-outside-toplevel

    return sorted(str(f) for f in llvm_get_cpu_features(cpu))


class Kernel:
    """One exported kernel: call it with its inputs, get the output as a NumPy array."""

    def __init__(self, func, entry: dict, dev: tvm.runtime.Device) -> None:
        self._func = func
        self._dev = dev
        self.key: str = entry["key"]
        self.entry = entry
        self.inputs = [(tuple(s["shape"]), s["dtype"]) for s in entry["inputs"]]
        self.output = (tuple(entry["output"]["shape"]), entry["output"]["dtype"])

    def __call__(self, *arrays: Any) -> np.ndarray:
        if len(arrays) != len(self.inputs):
            raise PackageError(f"{self.key} takes {len(self.inputs)} inputs, got {len(arrays)}")
        args = [self._to_tensor(i, a) for i, a in enumerate(arrays)]
        out = tvm.runtime.empty(self.output[0], self.output[1], self._dev)
        self._func(*args, out)
        return out.numpy()

    def _to_tensor(self, index: int, array: Any):
        shape, dtype = self.inputs[index]
        tensor = None
        if not isinstance(array, np.ndarray) and hasattr(array, "__dlpack__"):
            try:
                tensor = tvm.runtime.from_dlpack(array)  # zero-copy where TVM accepts it
            except (RuntimeError, ValueError):  # e.g. not 64-byte aligned: copy it instead
                array = np.from_dlpack(array)
        if tensor is not None:
            got = (tuple(tensor.shape), str(tensor.dtype))
        else:
            array = np.ascontiguousarray(array)
            tensor, got = None, (array.shape, str(array.dtype))
        if got != (shape, dtype):
            raise PackageError(
                f"{self.key}: input {index} must be {dtype}{list(shape)}, got {got[1]}{list(got[0])}"
            )
        if tensor is not None and tensor.device == self._dev:
            return tensor
        return tvm.runtime.tensor(array if tensor is None else tensor.numpy(), self._dev)


class Package:
    """A loaded package: ``pkg[key](*inputs)``; ``pkg.manifest`` holds the provenance."""

    def __init__(self, path: Path, manifest: dict, module, dev) -> None:
        self.path = path
        self.manifest = manifest
        self.kernels = {e["key"]: Kernel(module[e["symbol"]], e, dev) for e in manifest["kernels"]}

    def __getitem__(self, key: str) -> Kernel:
        try:
            return self.kernels[key]
        except KeyError:
            raise PackageError(
                f"package {self.path} has no kernel {key!r}; it has: {', '.join(self.kernels)}"
            ) from None

    def __contains__(self, key: str) -> bool:
        return key in self.kernels

    def keys(self) -> list[str]:
        return list(self.kernels)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to /dev/null for a moment."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_package(path: str | Path) -> Package:
    """Verify and load a package written by ``autotune.export``."""
    path, manifest, library, dev = open_package(path)
    if manifest.get("kind") == "model":
        raise PackageError(f"{path} holds a model: load it with autotune.model.load_model_package")
    return Package(path, manifest, tvm.runtime.load_module(str(library)), dev)


def open_package(path: str | Path) -> tuple[Path, dict, Path, tvm.runtime.Device]:
    """Read a package's manifest and verify it: library checksum, CPU features, device.

    Returns the folder, the manifest, the library's path and the device to run on.
    """
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise PackageError(f"{path} is not a package: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_file.read_text())
    except json.JSONDecodeError as err:
        raise PackageError(f"{manifest_file} is not valid JSON: {err}") from None
    library = path / manifest["library"]
    if not library.is_file():
        raise PackageError(f"package library {library} is missing")
    digest = hashlib.sha256(library.read_bytes()).hexdigest()
    if digest != manifest["sha256"]:
        raise PackageError(
            f"checksum mismatch for {library}: manifest says {manifest['sha256'][:12]}..., "
            f"file has {digest[:12]}...; the library was modified or corrupted"
        )
    target = tvm.target.Target(manifest["target"])
    _check_cpu(manifest)
    return path, manifest, library, _check_device(target)


def _check_cpu(manifest: dict) -> None:
    host = tvm.target.Target.from_device(tvm.cpu())
    built = manifest["target"].get("host", manifest["target"])
    built_arch = str(built.get("mtriple", "")).split("-")[0]
    host_arch = str(host.attrs.get("mtriple", "")).split("-")[0]
    if built_arch and host_arch and built_arch != host_arch:
        raise PackageError(f"package was built for {built_arch} CPUs; this machine is {host_arch}")
    missing = sorted(set(manifest.get("cpu_features", [])) - set(required_cpu_features(host)))
    if missing:
        raise PackageError(
            f"package was built for mcpu={built.get('mcpu')}, which has CPU features this "
            f"machine (mcpu={host.attrs.get('mcpu')}) lacks: {', '.join(missing[:8])}"
            f"{' ...' if len(missing) > 8 else ''}; export it again on or for this machine"
        )


def _check_device(target: tvm.target.Target) -> tvm.runtime.Device:
    kind = target.kind.name
    if kind == "llvm":
        return tvm.cpu()
    dev = tvm.device(kind, 0)
    if not dev.exist:
        raise PackageError(f"package was built for {kind}, and no {kind} device is present")
    if kind == "cuda":
        built = str(target.attrs.get("arch", "")).removeprefix("sm_")
        have = dev.compute_version.replace(".", "")
        if built and built[:-1] != have[:-1] or built and int(built[-1]) > int(have[-1]):
            raise PackageError(
                f"package was built for CUDA arch sm_{built}; this GPU is sm_{have}"
            )
    return dev
