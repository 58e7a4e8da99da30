"""Seeded fuzzing of a log's and a package's files: no crash, no traceback, no hang, and
no intact record lost (the driver, ``fuzz_files.py``, runs in a child process so that a
crash is a failed test, not a dead test run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import autotune

CASES = int(os.environ.get("FUZZ_CASES", 240))  # a third of them on the package
SEED = 20261206


def test_damaged_files_never_crash_and_never_lose_records(tuned, cpu, tmp_path):
    wl, log_dir, _result = tuned
    logs = tmp_path / "logs"
    shutil.copytree(log_dir, logs)
    package = autotune.export([wl], cpu, log_dir=logs, out=tmp_path / "pkg")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("fuzz_files.py")), str(logs), str(package),
         str(tmp_path / "work"), str(SEED), str(CASES)],
        capture_output=True, text=True, timeout=900, check=False)
    last = proc.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert proc.returncode == 0, f"died in {last[0]} (exit {proc.returncode}): {proc.stderr[-3000:]}"
    assert last == ["done"]
