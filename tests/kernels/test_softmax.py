"""Softmax has a CPU form of its own (one block a row); GPUs get the generic one."""

from __future__ import annotations

import tvm
import tvm_ffi

import autotune
from autotune.search.options import SearchOptions


def test_gpus_get_the_generic_form_and_cpus_their_own(cpu):
    wl = autotune.Workload("softmax", m=5, n=33)
    cuda = tvm.target.Target({"kind": "cuda", "arch": "sm_90"}, host={"kind": "llvm"})
    assert tvm_ffi.structural_equal(wl.module(cuda), wl.module())
    assert not tvm_ffi.structural_equal(wl.module(cpu), wl.module())
    assert 'T.sblock("row")' in wl.module(cpu).script()
    assert 'T.sblock("row")' not in wl.module().script()


def test_the_cpu_form_tunes_and_validates(cpu, tmp_path, workers):
    """Its records are found again: the search's unrolling choice is in every trace."""
    wl = autotune.Workload("softmax", m=6, n=70)
    result = autotune.tune(wl, cpu, trials=2, log_dir=tmp_path, progress=False,
                           workers=workers, search=SearchOptions(trials_per_iter=2, seed=0,
                                                                 population=64))
    assert result.validated and result.records >= 1
