"""scripts/compare_packages.py: model packages of one ONNX model timed in one run."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("onnxruntime")

from autotune.model import build_model  # noqa: E402
from autotune.model.sample import sample_model  # noqa: E402


def test_two_packages_and_the_libraries_are_one_table(run_script, tmp_path):
    model = sample_model(tmp_path / "m.onnx")
    packages = [build_model(model, "cpu", tmp_path / "no-logs", tmp_path / name,
                            fallback="default") for name in ("a", "b")]
    done = run_script("compare_packages.py", model, f"first={packages[0]}",
                      f"second={packages[1]}", "--out", tmp_path / "t.csv", "--rounds", 2)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table["implementation"]) == ["tvm-first", "tvm-untuned", "tvm-second",
                                             "onnxruntime"]
    assert table["matches_onnxruntime"].all() and (table["median_us"] > 0).all()
    assert (table["rounds"] == 2).all()
    assert table.set_index("implementation")["speedup_vs_onnxruntime"]["onnxruntime"] == 1


def test_bad_arguments_are_one_line(run_script, tmp_path):
    model = sample_model(tmp_path / "m.onnx")
    for args in ([model, "nofolder"], [model, f"a={tmp_path / 'missing'}"],
                 [model, f"a={tmp_path}", "--rounds", 0]):
        done = run_script("compare_packages.py", *args)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
