"""Benchmark scripts write every run as CSV and a Markdown summary naming host and command."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from bench_output import fenced, named_folders, write_results  # noqa: E402


def test_results_name_the_host_and_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["scripts/bench_x.py", "--trials", "8"])
    runs = pd.DataFrame({"arm": ["a", "b"], "seconds": [1.23456, 2.0]})
    write_results(tmp_path / "key", "x", runs, "Title", "A note.", [fenced(runs), "tail"])
    assert pd.read_csv(tmp_path / "key" / "x.csv").equals(runs)
    text = (tmp_path / "key" / "x.md").read_text()
    assert text.startswith("# Title\n\nHost: ")
    assert "Command: `python scripts/bench_x.py --trials 8`. A note." in text
    assert "```\narm  seconds\n  a     1.23\n  b        2\n```\n" in text and text.endswith("tail")
    assert capsys.readouterr().out.strip() == text.strip()


def test_named_folders_are_pairs_in_order_or_one_line(capsys):
    assert named_folders(["a=x/y", "b=z=w"], "logs") == [("a", "x/y"), ("b", "z=w")]
    for specs, least in ((["a=x", "nofolder"], 1), (["=x"], 1), (["a=x"], 2)):
        with pytest.raises(SystemExit) as done:
            named_folders(specs, "logs", least)
        assert done.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
