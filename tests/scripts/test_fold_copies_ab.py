"""scripts/fold_copies_ab.py: logged schedules with and without their copy passes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tvm.s_tir import meta_schedule as ms

from autotune.logs.store import LogStore
from autotune.workload import Workload

SUITE = """name = "fold"
[[workload]]
kernel = "conv2d"
c = 8
h = 5
w = 7
k = 20
kh = 1
kw = 1
epilogue = "bias+relu6"
"""


def _log_without_folding(log_dir: Path, target) -> None:
    """The channel-blocked variant's log, with schedules of MetaSchedule's plain generic
    space, as records made before InlineCopies are."""
    variant = Workload("conv2d_nchwc", c=8, h=5, w=7, k=20, kh=1, kw=1, epilogue="bias+relu6")
    db = LogStore(log_dir).open(variant, target, create=True).database()
    spaces = ms.TuneContext(mod=variant.module(target), target=target, task_name="plain",
                            space_generator="post-order-apply").generate_design_space()
    for i, sch in enumerate(spaces):
        db.commit_tuning_record(ms.database.TuningRecord(
            sch.trace, db.commit_workload(variant.module(target)), run_secs=[1e-5 * (i + 1)],
            target=target, args_info=ms.arg_info.ArgInfo.from_prim_func(variant.prim_func())))


def test_logged_schedules_are_timed_folded_and_not(run_script, cpu, tmp_path):
    _log_without_folding(tmp_path / "logs", cpu)
    (tmp_path / "fold.toml").write_text(SUITE)
    done = run_script("fold_copies_ab.py", tmp_path / "fold.toml", "--log-dir", tmp_path / "logs",
                      "--top", 2, "--rounds", 1, "--repeat", 1, "--out", tmp_path / "t.csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table["rank"]) == [0, 1]
    assert (table["variant"].str.startswith("conv2d_nchwc-")).all()
    assert (table[["as_logged_us", "folded_us"]] > 0).all().all()
    ratios = table["as_logged_us"] / table["folded_us"]
    assert table["speedup"].tolist() == pytest.approx(ratios.tolist())


def test_a_missing_log_directory_is_one_line(run_script, tmp_path):
    (tmp_path / "fold.toml").write_text(SUITE)
    done = run_script("fold_copies_ab.py", tmp_path / "fold.toml", "--log-dir",
                      tmp_path / "missing")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
