"""The CLI: bad input gives one line on stderr and exit status 2; the happy path prints results."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tvm
from click.testing import CliRunner, Result
from conftest import TINY_CONV

from autotune.cli import cli
from autotune.search.options import SearchOptions

GPU = tvm.cuda(0).exist


def autotune_cli(*args: str) -> Result:
    """The CLI run in this process, as the console script runs it (``AutotuneCli.main``)."""
    return CliRunner().invoke(cli, list(args))


BAD = [
    (["tune", "nope"], "unknown kernel 'nope'"),
    (["tune", "conv2d", "c=3"], "missing parameter 'h'"),
    (["tune", "conv2d", "c=3", "h=5", "w=5", "k=2", "kh=7"], "dilated kernel extent 7"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "bogus"], "not of the form name=value"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "m=4"], "parameter 'm' is given twice"),
    (["tune", "gemm", "m=3", "n=4", "k=x"], "parameter 'k': expected an integer"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "dtype=int4"], "unknown dtype 'int4'"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--target", "gpu"], "unknown target 'gpu'"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--target", "{oops"], "target JSON is malformed"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--trials", "-1"], "-1 is not in the range"),
    (["export", "gemm-m3-n4-k5-float32", "--log-dir", "/nonexistent/logs"],
     "no validated tuning record"),
    (["export", "gemm-m3"], "malformed workload key"),
    (["export"], "nothing to export"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--time-budget", "8x"], "is not a duration"),
    pytest.param(["tune", "gemm", "m=3", "n=4", "k=5", "--target", "cuda:sm_90"],
                 "no cuda device is present", marks=pytest.mark.skipif(GPU, reason="a GPU is present")),
    pytest.param(["tune", "gemm", "m=3", "n=4", "k=5", "--target", "cuda"], "needs a GPU",
                 marks=pytest.mark.skipif(GPU, reason="a GPU is present")),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--log-dir", "/dev/null/logs"],
     "cannot write the log directory /dev/null/logs"),
    (["bench", "no-such-suite"], "no suite file 'no-such-suite'"),
    (["bench", "gemm-odd", "--baseline", "cudnnn"], "unknown baseline(s): cudnnn"),
    (["report", "/nonexistent/results.csv"], "does not exist"),
    (["model", "build", "/nonexistent/m.onnx"], "no ONNX model at /nonexistent/m.onnx"),
    (["model", "tune", "/nonexistent/m.onnx", "--time-budget", "1h"], "no ONNX model at"),
    (["model", "tune", "/nonexistent/m.onnx", "--time-budget", "1x"], "'1x' is not a duration"),
    (["logs", "show", "gemm-m3-n4-k5-float32", "--log-dir", "/nonexistent"], "no log for workload"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--target", '{"kind": "llvm", "num-cores": -1}'],
     "target num-cores must be >= 1, got -1"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--target", '{"kind": "c"}'],
     "target kind 'c' is not supported"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--trials", "99999999999999999999999"],
     "trials must be between 0 and 2147483647"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--seed", "-1"], "seed must be between 0 and"),
    (["tune", "add", "n=99999999999999999999999"], "input 0 of add would have 99,999,"),
    (["tune", "gemm", "m=100000", "n=100000", "k=100000"],
     "would have 10,000,000,000 elements: TVM indexes buffers with 32-bit integers"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--time-budget", "nan"], "positive, finite duration"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--time-budget", "inf"], "positive, finite duration"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--log-dir="], "the log directory is an empty path"),
]


def _message(case) -> str:
    return case.values[1] if hasattr(case, "values") else case[1]


@pytest.mark.parametrize("args,message", BAD, ids=[_message(b) for b in BAD])
def test_bad_input_is_one_line_and_status_2(args, message):
    result = autotune_cli(*args)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""


def test_the_console_script_gives_one_line_and_status_2():
    """One real process: ``python -m autotune`` reaches the same error handling, and nothing
    else (a warning, a native log line) reaches stderr."""
    proc = subprocess.run([sys.executable, "-m", "autotune", "tune", "nope"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: unknown kernel 'nope'; known kernels: add, conv2d, conv2d_dw_nchwc, "
        "conv2d_dw_rows, conv2d_nchwc, conv2d_nhwc, conv2d_pw_nchw, fma, gemm, softmax, sum"]


def test_kernels_lists_every_template_with_parameters():
    proc = autotune_cli("kernels")
    assert proc.exit_code == 0
    for name in ("conv2d", "gemm", "add", "fma", "sum", "softmax"):
        assert f"{name}:" in proc.stdout
    assert "dilation" in proc.stdout and "groups" in proc.stdout


@pytest.mark.tuning
def test_tune_json_then_export(tmp_path):
    params = [f"{k}={v}" for k, v in TINY_CONV.items()] + ["c=3", "k=4"]
    params = list({p.split("=")[0]: p for p in params}.values())
    proc = autotune_cli("tune", "conv2d", *params, "--trials", "0", "--log-dir", str(tmp_path),
                        "--json")
    assert proc.exit_code == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["records"] == 0 and not result["validated"]
    proc = autotune_cli("export", "--all", "--log-dir", str(tmp_path), "--out",
                        str(tmp_path / "pkg"), "--fallback", "default")
    assert proc.exit_code == 0, proc.stderr
    assert "default  conv2d-n1-c3-h11-w9-k4-kh3-kw2-s2x2-p1x1-d1x1-g1-float32" in proc.stdout
    assert (tmp_path / "pkg" / "kernels.so").exists()


def test_export_a_suite_names_the_missing_workloads(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[workload]]\nkernel = "add"\nn = 5\n\n'
                     '[[workload]]\nkernel = "gemm"\nm = 3\nn = 4\nk = 5\n')
    args = ["export", "--suite", str(suite), "--log-dir", str(tmp_path / "logs"),
            "--out", str(tmp_path / "pkg")]
    proc = autotune_cli(*args)
    assert proc.exit_code == 2 and "add-n5-float32, gemm-m3-n4-k5-float32" in proc.stderr
    proc = autotune_cli(*args, "--fallback", "default")
    assert proc.exit_code == 0, proc.stderr
    assert "default  add-n5-float32" in proc.stdout and "(2 kernels)" in proc.stdout
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    assert [k["key"] for k in manifest["kernels"]] == ["add-n5-float32", "gemm-m3-n4-k5-float32"]


def test_suite_errors_are_listed_each_with_its_line(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[workload]]\nkernel = "gemm"\nm = -1\nn = 2\nk = 2\n\n'
                     '[[workload]]\nkernel = "add"\nn = 4\ntrials = "many"\n')
    proc = autotune_cli("bench", str(suite))
    assert proc.exit_code == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "error: 2 error(s) in suite:"
    assert lines[1].startswith(f"{suite}:1: workload 1: parameter 'm'")
    assert lines[2].startswith(f"{suite}:7: workload 2: trials must be")


def test_disk_full_while_writing_a_log_is_one_line(tmp_path, monkeypatch):
    import errno

    import autotune.logs.store

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(autotune.logs.store, "write_json", full)
    result = autotune_cli("tune", "gemm", "m=3", "n=4", "k=5", "--trials", "0",
                          "--log-dir", str(tmp_path))
    assert result.exit_code == 2
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and str(tmp_path) in err[0]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("flag,expected", [
    ([], SearchOptions()),
    (["--no-transfer", "--seed", "3", "--variants", "--warm-start", "--strategy", "evolutionary"],
     SearchOptions(seed=3, transfer=False, variants=True, warm_start=True,
                   strategy="evolutionary")),
    (["--variants", "auto"], SearchOptions(variants="auto")),
    (["--variants", "none"], SearchOptions(variants="none")),
])
@pytest.mark.parametrize("command", ["tune", "bench", "model"])
def test_options_reach_the_search_as_two_values(tmp_path, monkeypatch, command, flag, expected):
    """The CLI's options arrive as one ``SearchOptions`` and one ``Budget``, unchanged."""
    import autotune.benchmark.run
    import autotune.model.tune
    import autotune.search.tune
    from autotune.model.sample import sample_model

    seen = {}

    def record(workloads, target, budget, **kwargs):
        seen.update(kwargs, budget=budget, workloads=workloads)
        raise _Stop

    for module in (autotune.search.tune, autotune.benchmark.run, autotune.model.tune):
        monkeypatch.setattr(module, "tune_budget", record)
    args = {"tune": ["tune", "gemm", "m=3", "n=4", "k=5", "--time-budget", "1h30m"],
            "bench": ["bench", "gemm-odd", "--trials", "1", "--time-budget", "90s"],
            "model": ["model", "tune", str(sample_model(tmp_path / "m.onnx")),
                      "--trials", "5"]}[command]
    result = autotune_cli(*args, *flag, "--log-dir", str(tmp_path / "logs"))
    assert isinstance(result.exception, _Stop), result.output
    if command == "model" and not flag:  # a model's convs in the layouts expected to pay
        expected = SearchOptions(variants="auto")
    assert seen["search"] == expected
    budget = seen["budget"]
    assert budget.log_dir == tmp_path / "logs"
    if command == "tune":  # a time budget alone lifts the default of 64 trials
        assert (budget.trials, budget.time_budget) == (None, 5400.0)
    elif command == "bench":  # a suite's workloads tuned together under the one budget
        assert (budget.trials, budget.time_budget) == (len(seen["workloads"]), 90.0)
    else:
        assert (budget.trials, budget.time_budget) == (5, None)
