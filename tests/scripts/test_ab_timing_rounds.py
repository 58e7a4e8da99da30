"""scripts/ab_timing_rounds.py: bad arguments are one line and exit status 2."""

from __future__ import annotations


def test_bad_arguments_are_one_line(run_script, tmp_path):
    for args in (["gemm-odd"], ["gemm-odd=/tmp/x", "--reps", "0"],
                 [f"{tmp_path / 'missing.toml'}={tmp_path}"]):
        done = run_script("ab_timing_rounds.py", *args)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
