"""One real tuning run, then everything built on its log: validation, export, reload."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tvm
from conftest import TINY_CONV
from tvm.s_tir import meta_schedule as ms

import autotune
from autotune.errors import LogError, PackageError
from autotune.logs.events import trials_done
from autotune.logs.store import LogStore, record_id
from autotune.measure.compile import check_numerics, compile_module
from autotune.measure.protocol import Protocol
from autotune.measure.validate import best_validated
from autotune.search.options import SearchOptions

pytestmark = pytest.mark.tuning


def test_tune_gives_a_validated_kernel(tuned):
    wl, log_dir, result = tuned
    assert result.validated
    assert result.trials_run == 16 and result.records >= 14  # a candidate may fail to build
    # Re-measured with rotating inputs, the chosen kernel takes about what MetaSchedule
    # measured in cache when it ranked it.
    assert result.tuning_latency_s / 5 < result.latency_s < 5 * result.tuning_latency_s
    assert result.timing["samples"] == Protocol().repeat


def test_log_opens_with_plain_tvm(tuned, cpu):
    wl, log_dir, result = tuned
    db = ms.database.JSONDatabase(work_dir=result.log_path)
    assert len(db.get_all_tuning_records()) == result.records
    sch = ms.tir_integration.compile_tir(db, wl.prim_func(), cpu)
    best = db.get_top_k(db.commit_workload(wl.module()), 1)[0]
    assert str(sch.trace) == str(best.trace)  # plain TVM applies the log's best schedule
    assert check_numerics(compile_module(sch.mod, cpu), wl, cpu) is None


def test_log_is_never_applied_to_another_target(tuned, cpu):
    wl, log_dir, result = tuned
    other = autotune.resolve_target({"kind": "llvm", "mcpu": "skylake-avx512", "num-cores": 2})
    store = LogStore(log_dir)
    assert store.path(wl, other) != store.path(wl, cpu)
    with pytest.raises(LogError, match="no tuning log"):
        store.open(wl, other)
    # A log directory whose meta names another target is refused too.
    meta = json.loads((store.path(wl, cpu) / "meta.json").read_text())
    meta["target"]["mcpu"] = "skylake-avx512"
    bad_root = log_dir.parent / "mixed"
    bad = bad_root / store.path(wl, cpu).relative_to(log_dir)
    bad.mkdir(parents=True)
    (bad / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(LogError, match="not applied to another target"):
        LogStore(bad_root).open(wl, cpu)


def _wrong_but_fast_record(wl, target, db):
    """A record whose schedule truncates the padded input to int32: wrong, and 'fastest'."""
    sch = tvm.s_tir.Schedule(wl.module())
    sch.unsafe_set_dtype(sch.get_sblock("pad"), 0, "int32")
    return ms.database.TuningRecord(
        sch.trace,
        db.commit_workload(wl.module()),
        run_secs=[1e-9],
        target=target,
        args_info=ms.arg_info.ArgInfo.from_prim_func(wl.prim_func()),
    )


def test_wrong_record_is_never_reported_as_best(tuned, cpu, tmp_path):
    wl, log_dir, result = tuned
    entry = LogStore(tmp_path).open(wl, cpu, create=True)
    for name in ("database_workload.json", "database_tuning_record.json"):
        shutil.copy(Path(result.log_path) / name, entry.path / name)
    db = entry.database()
    wrong = _wrong_but_fast_record(wl, cpu, db)
    db.commit_tuning_record(wrong)
    # Fastest of all, and a record for another target faster still: neither may win.
    other = tvm.target.Target({"kind": "llvm", "mcpu": "skylake-avx512", "num-cores": 2})
    db.commit_tuning_record(ms.database.TuningRecord(
        wrong.trace, wrong.workload, run_secs=[1e-10], target=other, args_info=wrong.args_info))
    assert db.get_top_k(db.commit_workload(wl.module()), 1)[0].run_secs[0].value == 1e-10

    choice = best_validated(entry)
    assert choice is not None and choice.rid != record_id(wrong)
    assert choice.rejected == 1
    verdict = entry.verdicts()[record_id(wrong)]
    assert not verdict["ok"] and "differ from the NumPy reference" in verdict["error"]
    summary = autotune.tune(wl, cpu, trials=0, log_dir=tmp_path, progress=False)
    assert summary.validated and summary.tuning_latency_s > 1e-8  # not a planted record


PACKAGE_USER = textwrap.dedent("""
    import sys, numpy as np
    from autotune.deploy.package import load_package
    pkg = load_package(sys.argv[1])
    assert not [m for m in sys.modules if m in ("autotune.search.tune", "autotune.measure.validate", "autotune.deploy.export")]
    key = sys.argv[2]
    rng = np.random.default_rng(3)
    inputs = [rng.uniform(-1, 1, size=s["shape"]).astype(s["dtype"])
              for s in pkg.kernels[key].entry["inputs"]]
    np.save(sys.argv[3], pkg[key](*inputs))
    np.savez(sys.argv[4], *inputs)
""")


def test_export_then_load_in_a_fresh_process(tuned, cpu, tmp_path):
    wl, log_dir, result = tuned
    extra = autotune.Workload("softmax", m=3, n=7)  # never tuned: needs the fallback
    with pytest.raises(LogError, match="softmax-m3-n7-float32"):
        autotune.export([wl, extra], cpu, log_dir, tmp_path / "nopkg")
    out = autotune.export([wl, extra], cpu, log_dir, tmp_path / "pkg", fallback="default")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tvm_version"] == tvm.__version__
    assert manifest["target"]["mcpu"] == cpu.attrs["mcpu"]
    tuned_entry, default_entry = manifest["kernels"]
    assert tuned_entry["key"] == wl.key and tuned_entry["validated"]
    assert tuned_entry["schedule"] == "tuned"
    assert tuned_entry["tuning_latency_s"] == pytest.approx(result.tuning_latency_s)
    assert default_entry["schedule"] == "default" and not default_entry["validated"]

    for w in (wl, extra):
        y_file, x_file = tmp_path / f"{w.kernel}_y.npy", tmp_path / f"{w.kernel}_x.npz"
        subprocess.run([sys.executable, "-c", PACKAGE_USER, str(out), w.key, str(y_file),
                        str(x_file)], check=True)
        inputs = list(np.load(x_file).values())
        assert w.check(np.load(y_file), inputs) is None


def test_package_refuses_tampering_and_foreign_cpus(tuned, cpu, tmp_path):
    wl, log_dir, _ = tuned
    out = autotune.export([wl], cpu, log_dir, tmp_path / "pkg")
    pkg = autotune.load_package(out)
    with pytest.raises(PackageError, match="takes 2 inputs"):
        pkg[wl.key](np.zeros(3))
    with pytest.raises(PackageError, match=r"input 1 must be float32\[7, 5, 3, 2\]"):
        pkg[wl.key](*[np.zeros(s.shape, s.dtype) for s in wl.input_specs[:1]], np.zeros((7, 5)))
    with pytest.raises(PackageError, match="no kernel 'gemm"):
        pkg["gemm-m1-n1-k1-float32"]

    # Exporting again over a loaded package leaves the loaded one working, with the same record.
    first = json.loads((out / "manifest.json").read_text())
    autotune.export([wl], cpu, log_dir, out)
    again = json.loads((out / "manifest.json").read_text())
    assert again["kernels"] == first["kernels"]
    assert again["sha256"] == first["sha256"]  # reproducible: the same library, byte for byte
    inputs = [np.ones(s.shape, s.dtype) for s in wl.input_specs]
    assert wl.check(pkg[wl.key](*inputs), inputs) is None
    torch = pytest.importorskip("torch")  # any DLPack-capable array is accepted as is
    inputs = wl.make_inputs(seed=9)
    assert wl.check(pkg[wl.key](*[torch.from_numpy(x) for x in inputs]), inputs) is None

    manifest_file = out / "manifest.json"
    good = manifest_file.read_text()
    foreign = json.loads(good)
    foreign["target"]["mcpu"] = "sapphirerapids"
    foreign["cpu_features"] = foreign["cpu_features"] + ["amx-tile", "made-up-feature"]
    manifest_file.write_text(json.dumps(foreign))
    with pytest.raises(PackageError, match="mcpu=sapphirerapids.*lacks: .*made-up-feature"):
        autotune.load_package(out)
    foreign["target"]["mtriple"] = "aarch64-linux-gnu"
    manifest_file.write_text(json.dumps(foreign))
    with pytest.raises(PackageError, match="built for aarch64 CPUs"):
        autotune.load_package(out)
    manifest_file.write_text(good)

    # Tamper with a new file renamed over the library: this process has the original
    # mapped, and rewriting a mapped shared object in place would corrupt that mapping.
    library = out / "kernels.so"
    data = bytearray(library.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (out / "tampered.so").write_bytes(bytes(data))
    (out / "tampered.so").replace(library)
    with pytest.raises(PackageError, match="checksum mismatch"):
        autotune.load_package(out)


@pytest.mark.tuning
def test_layout_variants_share_the_budget_and_the_fastest_serves(workers, cpu, tmp_path):
    wl = autotune.Workload("conv2d", **TINY_CONV)
    keys = [v.key for v in wl.variants()]
    assert len(keys) == 3
    result = autotune.tune(wl, cpu, trials=12, log_dir=tmp_path, progress=False, workers=workers,
                           search=SearchOptions(seed=0, variants=True, population=64))
    assert result.workload == wl.key and result.trials_run == 12
    assert sorted(result.variant_latency_s) == sorted(keys)  # every variant validated, timed
    store = LogStore(tmp_path)
    done = [trials_done(store.path(v, cpu)) for v in wl.variants()]
    assert sum(done) == 12 and min(done) >= 1  # one budget, every variant searched
    winner = json.loads((store.path(wl, cpu) / "variant.json").read_text())
    assert winner["winner"] == result.variant
    assert winner["latency_s"] == pytest.approx(result.variant_latency_s)

    # The package serves the user's workload, under its own name, with the winner's kernel.
    out = autotune.export([wl], cpu, tmp_path, tmp_path / "pkg")
    entry = json.loads((out / "manifest.json").read_text())["kernels"][0]
    assert entry["key"] == wl.key and entry["variant"] == result.variant
    inputs = wl.make_inputs(seed=5)
    assert wl.check(autotune.load_package(out)[wl.key](*inputs), inputs) is None

    # The recorded winner decides, not whichever record MetaSchedule measured fastest.
    other = next(k for k in keys if k != result.variant)
    (store.path(wl, cpu) / "variant.json").write_text(json.dumps({"winner": other}))
    out = autotune.export([wl], cpu, tmp_path, tmp_path / "pkg2")
    assert json.loads((out / "manifest.json").read_text())["kernels"][0]["variant"] == other


def test_a_package_that_cannot_be_linked_is_one_error_and_no_library(tuned, cpu, tmp_path,
                                                                      monkeypatch):
    """Another architecture with no cross compiler on PATH, and a linker that fails (a full
    disk): each is one PackageError, and no library, whole or partial, is left behind."""
    import autotune.deploy.linker as linker

    wl, log_dir, _result = tuned
    monkeypatch.setattr(linker.shutil, "which", lambda name: None)
    foreign = {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "num-cores": 2}
    with pytest.raises(PackageError, match=r"aarch64-linux-gnu on this .* install a cross"):
        autotune.export([wl], foreign, log_dir, tmp_path / "arm", fallback="default")
    assert not list((tmp_path / "arm").glob("*"))

    def full_disk(*_args, **_kwargs):
        raise RuntimeError("Compilation error:\n/usr/bin/ld: final link failed: No space left "
                           "on device\ncollect2: error: ld returned 1 exit status\n")

    monkeypatch.setattr(tvm.runtime.Executable, "export_library", full_disk)
    with pytest.raises(PackageError) as failed:
        autotune.export([wl], cpu, log_dir, tmp_path / "full")
    assert str(failed.value) == (f"cannot write {tmp_path / 'full' / 'kernels.so'}: "
                                 "/usr/bin/ld: final link failed: No space left on device")
    assert not list((tmp_path / "full").glob("*"))
