"""Hardware targets: ``cpu`` (the host as LLVM sees it), ``cuda[:arch]``, or raw TVM target JSON."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from functools import cache

import psutil
import tvm

from autotune.errors import TargetError

# Per-block limits of every NVIDIA GPU since sm_50, as TVM's own CUDA tags give them
# (48 KiB is the static shared memory a kernel gets without opting in to more).
CUDA_LIMITS = {
    "max_threads_per_block": 1024,
    "max_shared_memory_per_block": 49152,
    "registers_per_block": 65536,
    "thread_warp_size": 32,
}


@cache
def host_target() -> tvm.target.Target:
    """The host CPU with its real ``mcpu`` and physical core count."""
    detected = tvm.target.Target.from_device(tvm.cpu()).export()
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return tvm.target.Target(
        {"kind": "llvm", "mtriple": detected["mtriple"], "mcpu": detected["mcpu"], "num-cores": cores}
    )


def resolve_target(spec: str | dict | tvm.target.Target) -> tvm.target.Target:
    """Turn ``cpu``, ``cuda``, ``cuda:sm_90``, a JSON string/dict or a Target into a Target."""
    if isinstance(spec, tvm.target.Target):
        return spec
    if isinstance(spec, str):
        text = spec.strip()
        if text == "cpu":
            return host_target()
        if text == "cuda" or text.startswith("cuda:"):
            arch = text.partition(":")[2] or _detect_cuda_arch()
            return tvm.target.Target({"kind": "cuda", "arch": arch, **CUDA_LIMITS},
                                     host=_host_json())
        if not text.startswith("{"):
            raise TargetError(
                f"unknown target {spec!r}: use 'cpu', 'cuda', 'cuda:sm_XX' or a TVM target JSON object"
            )
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as err:
            raise TargetError(f"target JSON is malformed: {err}") from None
    if not isinstance(spec, dict):
        raise TargetError(f"target must be a string or a JSON object, got {type(spec).__name__}")
    try:
        target = tvm.target.Target(spec)
    except Exception as err:  # TVM raises several error types for bad configs
        raise TargetError(f"TVM rejected the target {json.dumps(spec)}: {_first_line(err)}") from None
    if target.kind.name not in ("llvm", "cuda"):
        raise TargetError(f"target kind {target.kind.name!r} is not supported: use 'llvm' "
                          "(CPUs) or 'cuda' (NVIDIA GPUs)")
    cores = target.attrs.get("num-cores")
    if cores is not None and int(cores) < 1:
        raise TargetError(f"target num-cores must be >= 1, got {int(cores)}")
    return target


def _host_json() -> dict:
    host = dict(host_target().export())
    return {k: host[k] for k in ("kind", "mtriple", "mcpu", "num-cores")}


def _detect_cuda_arch() -> str:
    dev = tvm.cuda(0)
    if not dev.exist:
        raise TargetError("target 'cuda' needs a GPU to detect its arch; name it, e.g. 'cuda:sm_90'")
    return "sm_" + dev.compute_version.replace(".", "")


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


def target_json(target: tvm.target.Target) -> dict:
    """The target as a plain, JSON-serialisable dict (host included)."""
    return _plain(target.export())


def _plain(value):
    if isinstance(value, tvm.target.Target):
        return _plain(value.export())
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_plain(v) for v in value]
    return str(value)


def same_target(a: tvm.target.Target | dict, b: tvm.target.Target | dict) -> bool:
    """Whether what was measured on ``a`` holds on ``b``: the same full target JSON (host
    included). The one test of "same target" for logs, records, donors and exports."""
    return (a if isinstance(a, dict) else target_json(a)) == \
        (b if isinstance(b, dict) else target_json(b))


def target_key(target: tvm.target.Target) -> str:
    """Readable, collision-safe folder name: e.g. ``llvm-znver5-2c-1a2b3c4d``."""
    data = target_json(target)
    kind = data["kind"]
    label = data.get("mcpu") or data.get("arch") or "generic"
    cores = data.get("num-cores")
    parts = [kind, str(label)] + ([f"{cores}c"] if cores else [])
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    return "-".join(parts + [digest])


def target_threads(target: tvm.target.Target) -> int:
    """Host threads for kernels built for ``target``: its ``num-cores`` (host's for GPUs)."""
    cpu = target if target.kind.name == "llvm" else target.host
    cores = cpu.attrs.get("num-cores") if cpu is not None else None
    return int(cores) if cores else host_target().attrs["num-cores"]


def device_for(target: tvm.target.Target) -> tvm.runtime.Device:
    """The device that runs code built for ``target``, or TargetError if there is none."""
    kind = target.kind.name
    dev = tvm.cpu() if kind == "llvm" else tvm.device(kind, 0)
    if not dev.exist:
        raise TargetError(f"no {kind} device is present on this machine to run {kind} kernels")
    return dev


_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def host_arch() -> str:
    """This machine's CPU architecture, as LLVM triples name it (``x86_64``, ``aarch64``)."""
    return _ARCH_ALIASES.get(platform.machine().lower(), platform.machine().lower())


def target_arch(target: tvm.target.Target) -> str:
    """The CPU architecture a target's host code is for: its ``mtriple``'s, else this
    machine's."""
    triple = str((target.host or target).attrs.get("mtriple") or "")
    arch = triple.split("-")[0].lower()
    return _ARCH_ALIASES.get(arch, arch) if arch else host_arch()
