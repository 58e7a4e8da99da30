"""The CPU's theoretical float32 peak: vector width x FMA units x 2 FLOP x cores x clock.

The vector width comes from the target's LLVM features (AVX-512, AVX2/AVX, else SSE), the
FMA datapath per core from the ``mcpu`` (how many bits of FMA a core retires per cycle:
Zen 5 and Intel's server cores two 512-bit units, Zen 4 and Intel's client AVX-512 cores
one 512-bit unit's worth, AVX2 cores two 256-bit units), the clock measured with every core
busy (``autotune.hardware.clock``; in a VM the nominal clock of ``/proc/cpuinfo`` is often
the base clock, which boosted cores beat), else the kernel's cpufreq maximum, else that
nominal clock. It is the bound no kernel passes at that clock; the measured SGEMM rate
(``peak.Peaks.gflops``) is the one a real kernel reaches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import tvm

from autotune.hardware.clock import measured_clock_ghz

# Bits of float32 FMA a core retires per cycle, by LLVM mcpu (default: two units of the
# widest vector the target has).
FMA_BITS_PER_CYCLE = {
    "znver5": 1024, "znver4": 512, "znver3": 512, "znver2": 512, "znver1": 256,
    "skylake-avx512": 1024, "cascadelake": 1024, "cooperlake": 1024,
    "icelake-server": 1024, "sapphirerapids": 1024, "emeraldrapids": 1024,
    "graniterapids": 1024, "icelake-client": 512, "tigerlake": 512, "rocketlake": 512,
    "alderlake": 512, "raptorlake": 512, "meteorlake": 512, "arrowlake": 512,
    "haswell": 512, "broadwell": 512, "skylake": 512,
}


@dataclass(frozen=True)
class IsaPeak:
    """Theoretical float32 GFLOP/s and what it was computed from."""

    gflops: float
    vector_bits: int
    fma_bits_per_cycle: int
    cores: int
    ghz: float
    clock_source: str

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"{self.cores} cores x {self.fma_bits_per_cycle // 32} float32 FMA lanes x 2 "
                f"FLOP x {self.ghz:.2f} GHz: {self.clock_source}, {self.vector_bits}-bit vectors")


def vector_bits(target: tvm.target.Target) -> int:
    """Widest float vector the target's code may use."""
    from tvm.target.codegen import llvm_get_cpu_features  # pylint: disable=import-outside-toplevel

    features = {str(f) for f in llvm_get_cpu_features(target)}
    if "avx512f" in features:
        return 512
    if "avx" in features:
        return 256
    return 128


def clock_ghz(target: tvm.target.Target | None = None, cores: int = 1) -> tuple[float, str]:
    """The core clock in GHz and where it was read (measured on ``cores`` busy cores where
    ``target`` is an x86-64 CPU)."""
    measured = measured_clock_ghz(target, cores) if target is not None else None
    if measured:
        return measured, "measured with every core busy"
    try:
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        return khz / 1e6, "cpufreq maximum"
    except (OSError, ValueError):
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) / 1e3, "nominal clock of /proc/cpuinfo"
    except (OSError, ValueError):
        pass
    return float("nan"), "clock unknown"


def isa_peak(target: tvm.target.Target) -> IsaPeak | None:
    """The theoretical float32 peak of the CPU ``target`` describes (None for GPUs)."""
    if target.kind.name != "llvm":
        return None
    width = vector_bits(target)
    fma = FMA_BITS_PER_CYCLE.get(str(target.attrs.get("mcpu", "")), 2 * width)
    fma = min(fma, 2 * width)
    cores = int(target.attrs.get("num-cores", 1) or 1)
    ghz, source = clock_ghz(target, cores)
    return IsaPeak(gflops=cores * (fma // 32) * 2 * ghz, vector_bits=width,
                   fma_bits_per_cycle=fma, cores=cores, ghz=ghz, clock_source=source)
