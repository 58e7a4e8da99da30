"""scripts/ab_timing_rounds.py: bad arguments are one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ab_timing_rounds.py"


def test_bad_arguments_are_one_line(tmp_path):
    for args in (["gemm-odd"], ["gemm-odd=/tmp/x", "--reps", "0"],
                 [f"{tmp_path / 'missing.toml'}={tmp_path}"]):
        done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
