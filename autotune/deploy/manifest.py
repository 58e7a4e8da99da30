"""A package's manifest: its file names, its format, and the checks made before loading it
(library checksum, CPU architecture and features, device)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import tvm

from autotune.errors import PackageError

LIBRARY = "kernels.so"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1  # raised when the manifest's fields change meaning


def required_cpu_features(target: tvm.target.Target) -> list[str]:
    """LLVM CPU features the code built for ``target`` may use (host side for GPU targets)."""
    cpu = target.host if target.kind.name != "llvm" and target.host else target
    if cpu is None or cpu.kind.name != "llvm":
        return []
    from tvm.target.codegen import llvm_get_cpu_features  # pylint: disable=import-outside-toplevel

    return sorted(str(f) for f in llvm_get_cpu_features(cpu))


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
    if manifest.get("format", 1) > MANIFEST_FORMAT:
        raise PackageError(f"{manifest_file} is package format {manifest['format']}, newer "
                           f"than this autotune reads ({MANIFEST_FORMAT}); upgrade autotune")
    library = _library(path, manifest.get("library"))
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


def _library(path: Path, name) -> Path:
    """The package's library: a regular file directly in the package folder, never a link
    or a path that leads out of it (a manifest may come from anyone)."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise PackageError(f"{path / MANIFEST}: 'library' must name a file in the package "
                           f"folder, got {name!r}")
    library = path / name
    if library.is_symlink():
        raise PackageError(f"package library {library} is a symbolic link; a package's "
                           "library must be a regular file inside it")
    if not library.is_file():
        raise PackageError(f"package library {library} is missing")
    return library

