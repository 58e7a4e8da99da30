"""A package's manifest: its file names, its format, and the checks made before loading it
(library checksum, CPU architecture and features, device)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import tvm

from autotune.errors import PackageError, first_line
from autotune.hardware.target import target_threads
from autotune.hardware.threads import size_tvm_pool

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
    manifest = read_manifest(path)
    library = _library(path, manifest.get("library"))
    digest = hashlib.sha256(library.read_bytes()).hexdigest()
    if digest != manifest["sha256"]:
        raise PackageError(
            f"checksum mismatch for {library}: manifest says {manifest['sha256'][:12]}..., "
            f"file has {digest[:12]}...; the library was modified or corrupted"
        )
    try:
        target = tvm.target.Target(manifest["target"])
    except Exception as err:  # noqa: BLE001 - TVM raises several types for a bad target
        raise PackageError(f"{manifest_file}: 'target' is not a target TVM accepts: "
                           f"{first_line(err)}") from None
    _check_cpu(manifest)
    device = _check_device(target)
    _use_target_threads(target)
    return path, manifest, library, device


def _use_target_threads(target: tvm.target.Target) -> None:
    """Run a CPU package's kernels on its target's cores, as they were tuned and timed
    (TVM's own default is half the logical CPUs on x86), unless ``TVM_NUM_THREADS`` says
    otherwise."""
    if target.kind.name == "llvm" and "TVM_NUM_THREADS" not in os.environ:
        size_tvm_pool(target_threads(target))


def read_manifest(path: str | Path) -> dict:
    """A package's manifest, its fields checked (nothing loaded, no checksum verified)."""
    manifest_file = Path(path) / MANIFEST
    if not manifest_file.is_file():
        raise PackageError(f"{path} is not a package: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PackageError(f"{manifest_file} is not valid JSON: {err}") from None
    check_fields(manifest, manifest_file)
    if manifest.get("format", 1) > MANIFEST_FORMAT:
        raise PackageError(f"{manifest_file} is package format {manifest['format']}, newer "
                           f"than this autotune reads ({MANIFEST_FORMAT}); upgrade autotune")
    return manifest


def check_fields(manifest, file: Path) -> None:
    """PackageError naming the first field of a manifest whose type is not what a package's
    loader reads (a manifest may come from anyone: every field is checked before use)."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise PackageError(f"{file}: {what}")

    def integer(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def spec(value) -> bool:
        return (isinstance(value, dict) and isinstance(value.get("dtype"), str)
                and isinstance(value.get("shape"), list)
                and all(integer(d) and d >= 0 for d in value["shape"]))

    need(isinstance(manifest, dict), "not a JSON object")
    need(integer(manifest.get("format", 1)), "'format' must be an integer")
    need(isinstance(manifest.get("sha256"), str), "'sha256' must be a string")
    target = manifest.get("target")
    need(isinstance(target, dict) and isinstance(target.get("kind"), str)
         and isinstance(target.get("host", {}), dict), "'target' must be a target JSON object")
    features = manifest.get("cpu_features", [])
    need(isinstance(features, list) and all(isinstance(f, str) for f in features),
         "'cpu_features' must be a list of strings")
    alignment = manifest.get("input_alignment", 64)
    need(integer(alignment) and alignment >= 0, "'input_alignment' must be a non-negative integer")
    if manifest.get("kind") == "model":
        model = manifest.get("model")
        need(isinstance(model, dict) and isinstance(model.get("inputs"), list),
             "'model' must hold a list of 'inputs'")
        return
    kernels = manifest.get("kernels")
    need(isinstance(kernels, list), "'kernels' must be a list")
    for i, entry in enumerate(kernels):
        need(isinstance(entry, dict) and isinstance(entry.get("key"), str)
             and isinstance(entry.get("symbol"), str), f"kernels[{i}] needs a 'key' and a 'symbol'")
        need(isinstance(entry.get("inputs"), list) and all(spec(x) for x in entry["inputs"])
             and spec(entry.get("output")), f"kernels[{i}]: malformed 'inputs' or 'output'")
        weights = entry.get("weights") or []
        need(isinstance(weights, list) and all(integer(w) for w in weights),
             f"kernels[{i}]: 'weights' must be a list of input numbers")
        plan = entry.get("prepack")
        need(plan is None or (isinstance(plan, dict) and integer(plan.get("input"))
                              and spec(plan.get("packed")) and isinstance(plan.get("pack"), str)
                              and isinstance(plan.get("kernel"), str)),
             f"kernels[{i}]: malformed 'prepack'")


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

