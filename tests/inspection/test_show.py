"""``autotune show``: what a tuned GEMM is, from its log and from its package."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import tvm
from click.testing import CliRunner

import autotune
from autotune.cli import cli
from autotune.inspection.assembly import summarize_asm
from autotune.logs.store import LogStore, record_id

pytestmark = pytest.mark.tuning

GEMM = dict(m=16, n=64, k=48)


@pytest.fixture(scope="module")
def gemm_log(workers, cpu, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("show")
    wl = autotune.Workload("gemm", **GEMM)
    autotune.tune(wl, cpu, trials=8, log_dir=log_dir, progress=False, workers=workers,
                  search=autotune.SearchOptions(trials_per_iter=8, seed=1, population=64))
    return wl, log_dir


def show(*args: str):
    return CliRunner().invoke(cli, ["show", *args])


def _has_fma(target: tvm.target.Target) -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text(encoding="utf-8") if cpuinfo.exists() else ""
    return target.kind.name == "llvm" and " fma" in flags and " avx2" in flags


def test_show_names_the_loops_gives_parseable_tvmscript_and_reads_the_assembly(gemm_log, cpu):
    wl, log_dir = gemm_log
    result = show(wl.key, "--log-dir", str(log_dir))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "validated against NumPy" in out
    # the trace in words names the template's loops with their extents (sampled tiles, or
    # a sketch's fixed splits)
    for loop in ("i (16)", "j (64)", "r (48)"):
        assert re.search(rf"^(tile|split) {re.escape(loop)}: [\d?]+( x \d+)+$", out, re.M), out
    assert "block C_update" in out  # the loop nest
    view = autotune.inspect(wl, cpu, log_dir)
    parsed = tvm.script.from_source(view.script)  # the scheduled TVMScript parses back
    tvm.ir.assert_structural_equal(parsed, tvm.script.from_source(view.script))
    assert view.asm is not None and view.asm.hot_loop is not None
    if not _has_fma(cpu):
        pytest.skip("no AVX2/FMA on this host: the assembly check needs it")
    assert view.asm.fma >= 1 and view.asm.hot_loop.fma >= 1
    assert view.asm.width in ("ymm", "zmm")
    assert re.search(r"hot loop in \S+ at line \d+: .* \d+ FMA", out)


def test_llvm_and_asm_print_the_code(gemm_log):
    wl, log_dir = gemm_log
    llvm = show(wl.key, "--log-dir", str(log_dir), "--llvm", "--no-script")
    assert llvm.exit_code == 0 and "define " in llvm.output
    assert "== scheduled TVMScript ==" not in llvm.output
    asm = show(wl.key, "--log-dir", str(log_dir), "--asm", "--no-script")
    assert asm.exit_code == 0 and re.search(r"^\s+retq?\s*$", asm.output, re.M)


def test_a_record_by_id_prefix_and_two_side_by_side(gemm_log, cpu):
    wl, log_dir = gemm_log
    records = LogStore(log_dir).open(wl, cpu).database().get_all_tuning_records()
    ids = sorted({record_id(r) for r in records})
    one = show(wl.key, "--log-dir", str(log_dir), "--record", ids[0][:8], "--no-script")
    assert one.exit_code == 0 and f"record {ids[0]}" in one.output
    both = show(wl.key, "--log-dir", str(log_dir), "--record", ids[0], "--diff", ids[1])
    assert both.exit_code == 0, both.output
    head = both.output.splitlines()[1]
    assert head.startswith(ids[0]) and ids[1] in head
    missing = show(wl.key, "--log-dir", str(log_dir), "--record", "zzzz")
    assert missing.exit_code == 2 and "no record" in missing.output


def test_a_package_kernel_is_shown_from_its_manifest(gemm_log, cpu, tmp_path):
    wl, log_dir = gemm_log
    pkg = autotune.export([wl], cpu, log_dir, tmp_path / "pkg")
    from_log = autotune.inspect(wl, cpu, log_dir)
    from_pkg = autotune.inspect_package(pkg, wl.key)
    assert from_pkg.record == from_log.record and from_pkg.schedule == from_log.schedule
    assert from_pkg.loops == from_log.loops
    result = show(str(pkg), wl.key, "--no-script")
    assert result.exit_code == 0 and "package" in result.output
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["kernels"][0]["trace"] = None
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    old = show(str(pkg), wl.key)
    assert old.exit_code == 2 and "export it again" in old.output
    assert len(old.output.strip().splitlines()) == 1


def test_the_assembly_summary_finds_the_innermost_loop_with_the_most_fma():
    text = "\n".join([
        "kernel:",
        ".LBB0_1:",
        "\tvmovups\t(%rax,%rcx,4), %zmm1",
        ".LBB0_2:",
        "\tvbroadcastss\t(%rdx), %zmm2",
        "\tvfmadd231ps\t%zmm2, %zmm1, %zmm0",
        "\tvfmadd231ps\t64(%rsi), %zmm1, %zmm3",
        "\tjne\t.LBB0_2",
        "\tvmovups\t%zmm0, (%rdi,%rcx,4)",
        "\tjne\t.LBB0_1",
        "\tret",
    ])
    summary = summarize_asm(text)
    assert summary.width == "zmm" and summary.fma == 2
    hot = summary.hot_loop
    assert (hot.first_line, hot.fma, hot.vector_loads, hot.broadcasts, hot.vector_stores) == \
        (4, 2, 2, 1, 0)


def test_show_reads_and_never_writes_the_log(gemm_log, cpu, tmp_path):
    """Without verdicts the fastest record is shown as not validated yet, and nothing is
    built into the log or written there (a log may come from a machine without its
    device)."""
    wl, log_dir = gemm_log
    copy = tmp_path / "logs"
    shutil.copytree(log_dir, copy)
    folder = LogStore(copy).path(wl, cpu)
    (folder / "validation.json").unlink(missing_ok=True)
    before = {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}
    view = autotune.inspect(wl, cpu, copy)
    assert view.verdict == "not validated yet"
    assert {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()} == before


def test_a_conv_trace_names_the_template_loops(tuned, cpu):
    wl, log_dir, _result = tuned
    view = autotune.inspect(wl, cpu, log_dir)
    tiles = [line for line in view.schedule if line.startswith("tile ")]
    assert any(line.startswith(f"tile o ({wl.params['k']}): ") for line in tiles), view.schedule
    assert any(line.startswith("tile rc (") for line in tiles), view.schedule
