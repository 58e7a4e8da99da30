"""The CLI: bad input gives one line on stderr and exit status 2; the happy path prints results."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autotune.options import SearchOptions

from conftest import TINY_CONV

CLI = [sys.executable, "-m", "autotune"]


def autotune_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)


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
    (["tune", "gemm", "m=3", "n=4", "k=5", "--target", "cuda:sm_90"], "no cuda device is present"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--target", "cuda"], "needs a GPU"),
    (["tune", "gemm", "m=3", "n=4", "k=5", "--log-dir", "/dev/null/logs"],
     "cannot write the log directory /dev/null/logs"),
    (["bench", "no-such-suite"], "no suite file 'no-such-suite'"),
    (["bench", "gemm-odd", "--baseline", "cudnnn"], "unknown baseline(s): cudnnn"),
    (["report", "/nonexistent/results.csv"], "does not exist"),
    (["model", "build", "/nonexistent/m.onnx"], "no ONNX model at /nonexistent/m.onnx"),
    (["model", "tune", "/nonexistent/m.onnx", "--time-budget", "1x"], "no ONNX model at"),
    (["logs", "show", "gemm-m3-n4-k5-float32", "--log-dir", "/nonexistent"], "no log for workload"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_line_and_status_2(args, message):
    proc = autotune_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_kernels_lists_every_template_with_parameters():
    proc = autotune_cli("kernels")
    assert proc.returncode == 0
    for name in ("conv2d", "gemm", "add", "fma", "sum", "softmax"):
        assert f"{name}:" in proc.stdout
    assert "dilation" in proc.stdout and "groups" in proc.stdout


@pytest.mark.tuning
def test_tune_json_then_export(tmp_path):
    params = [f"{k}={v}" for k, v in TINY_CONV.items()] + ["c=3", "k=4"]
    params = list({p.split("=")[0]: p for p in params}.values())
    proc = autotune_cli("tune", "conv2d", *params, "--trials", "0", "--log-dir", str(tmp_path),
                        "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["records"] == 0 and not result["validated"]
    proc = autotune_cli("export", "--all", "--log-dir", str(tmp_path), "--out",
                        str(tmp_path / "pkg"), "--fallback", "default")
    assert proc.returncode == 0, proc.stderr
    assert "default  conv2d-n1-c3-h11-w9-k4-kh3-kw2-s2x2-p1x1-d1x1-g1-float32" in proc.stdout
    assert (tmp_path / "pkg" / "kernels.so").exists()


def test_export_a_suite_names_the_missing_workloads(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[workload]]\nkernel = "add"\nn = 5\n\n'
                     '[[workload]]\nkernel = "gemm"\nm = 3\nn = 4\nk = 5\n')
    args = ["export", "--suite", str(suite), "--log-dir", str(tmp_path / "logs"),
            "--out", str(tmp_path / "pkg")]
    proc = autotune_cli(*args)
    assert proc.returncode == 2 and "add-n5-float32, gemm-m3-n4-k5-float32" in proc.stderr
    proc = autotune_cli(*args, "--fallback", "default")
    assert proc.returncode == 0, proc.stderr
    assert "default  add-n5-float32" in proc.stdout and "(2 kernels)" in proc.stdout
    manifest = json.loads((tmp_path / "pkg" / "manifest.json").read_text())
    assert [k["key"] for k in manifest["kernels"]] == ["add-n5-float32", "gemm-m3-n4-k5-float32"]


def test_suite_errors_are_listed_each_with_its_line(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[workload]]\nkernel = "gemm"\nm = -1\nn = 2\nk = 2\n\n'
                     '[[workload]]\nkernel = "add"\nn = 4\ntrials = "many"\n')
    proc = autotune_cli("bench", str(suite))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "error: 2 error(s) in suite:"
    assert lines[1].startswith(f"{suite}:1: workload 1: parameter 'm'")
    assert lines[2].startswith(f"{suite}:7: workload 2: trials must be")


def test_disk_full_while_writing_a_log_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    import autotune.logs
    from autotune.cli import main

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(autotune.logs, "write_json", full)
    monkeypatch.setattr(sys, "argv", ["autotune", "tune", "gemm", "m=3", "n=4", "k=5",
                                      "--trials", "0", "--log-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and str(tmp_path) in err[0]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("flag,expected", [
    ([], SearchOptions()),
    (["--no-transfer", "--seed", "3", "--variants", "--warm-start"],
     SearchOptions(seed=3, transfer=False, variants=True, warm_start=True)),
])
@pytest.mark.parametrize("command", ["tune", "bench"])
def test_search_flags_reach_the_search(tmp_path, monkeypatch, command, flag, expected):
    import autotune.bench
    import autotune.tuning
    from autotune.cli import main

    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(autotune.tuning, "tune_many", record)
    monkeypatch.setattr(autotune.bench, "tune", record)
    args = (["tune", "gemm", "m=3", "n=4", "k=5"] if command == "tune"
            else ["bench", "gemm-odd", "--trials", "1"])
    monkeypatch.setattr(sys, "argv", ["autotune", *args, *flag, "--log-dir", str(tmp_path)])
    with pytest.raises(_Stop):
        main()
    assert seen["search"] == expected
