"""scripts/compare_logs.py: bad arguments are answered in one line."""

from __future__ import annotations


def test_bad_log_arguments_are_one_line(run_script):
    done = run_script("compare_logs.py", "gemm-odd", "a=/tmp", "nofolder")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: give log directories as NAME=DIR, got "
                                                "nofolder"]
