"""What the host is, in words: CPU model and core counts (and the GPU, for GPU targets)."""

from __future__ import annotations

import platform
from pathlib import Path

import psutil
import tvm

from autotune.hardware.target import device_for


def host_description(target: tvm.target.Target | None = None) -> str:
    """CPU model and core counts, e.g. ``AMD EPYC 9B45, 2 cores / 2 threads``; for a GPU
    target, the GPU first (``NVIDIA H100 80GB HBM3 (sm_90) on ...``)."""
    if target is not None and target.kind.name != "llvm":
        dev = device_for(target)
        return f"{dev.device_name} (sm_{dev.compute_version.replace('.', '')}) on {host_description()}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {psutil.cpu_count(logical=False)} cores / "
            f"{psutil.cpu_count(logical=True)} threads")
