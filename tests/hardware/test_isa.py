"""The ISA peak's clock: measured on busy cores, not the nominal clock a VM reports."""

from __future__ import annotations

import tvm

from autotune.hardware.clock import measured_clock_ghz
from autotune.hardware.isa import isa_peak


def test_the_clock_is_measured_on_x86_hosts(cpu):
    ghz = measured_clock_ghz(cpu, int(cpu.attrs["num-cores"]))
    assert 0.8 < ghz < 7.0  # a real core's clock: a chain LLVM shortened would read far above
    peak = isa_peak(cpu)
    assert peak.clock_source == "measured with every core busy" and peak.ghz == ghz
    assert peak.gflops == peak.cores * peak.fma_bits_per_cycle // 32 * 2 * ghz


def test_other_targets_are_not_measured():
    arm = tvm.target.Target({"kind": "llvm", "mtriple": "aarch64-linux-gnu", "num-cores": 2})
    assert measured_clock_ghz(arm, 2) is None
    cuda = tvm.target.Target({"kind": "cuda", "arch": "sm_90"}, host={"kind": "llvm"})
    assert isa_peak(cuda) is None
