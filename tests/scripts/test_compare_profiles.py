"""scripts/compare_profiles.py: where model packages of one ONNX model spend a call."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("onnxruntime")

from autotune.model import build_model  # noqa: E402
from autotune.model.sample import sample_model  # noqa: E402


def test_two_packages_are_one_table_part_by_part(run_script, tmp_path):
    model = sample_model(tmp_path / "m.onnx")
    packages = [build_model(model, "cpu", tmp_path / "no-logs", tmp_path / name,
                            fallback="default") for name in ("a", "b")]
    done = run_script("compare_profiles.py", model, f"new={packages[0]}", f"old={packages[1]}",
                      "--out", tmp_path / "p.csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "p.csv", index_col="part")
    assert list(table.columns) == ["new", "old", "new/old"]
    parts = table.drop(index="total")
    assert len(parts) > 1 and (parts[["new", "old"]] >= 0).all().all()
    assert table.loc["total", "new"] == pytest.approx(parts["new"].sum())
    assert table.loc["total", "new/old"] == pytest.approx(parts["new"].sum() / parts["old"].sum())


def test_bad_arguments_are_one_line(run_script, tmp_path):
    model = sample_model(tmp_path / "m.onnx")
    for args in ([model, f"a={tmp_path}"], [model, "a=x", "nofolder"],
                 [model, f"a={tmp_path / 'missing'}", f"b={tmp_path / 'missing'}"]):
        done = run_script("compare_profiles.py", *args)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
