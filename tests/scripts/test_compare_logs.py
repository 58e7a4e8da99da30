"""scripts/compare_logs.py: bad arguments are answered in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_logs.py"


def test_bad_log_arguments_are_one_line():
    done = subprocess.run([sys.executable, str(SCRIPT), "gemm-odd", "a=/tmp", "nofolder"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: give log directories as NAME=DIR, got "
                                                "nofolder"]
