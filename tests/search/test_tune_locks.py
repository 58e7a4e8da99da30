"""Runs that share logs take their locks in one order, whatever order they list them in."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

import autotune
import autotune.search.tune as tune_module


class _Locked(Exception):
    pass


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
def test_logs_are_locked_in_path_order(tmp_path, cpu, monkeypatch, order):
    workloads = [autotune.Workload("add", n=n) for n in (5, 6, 7)]
    taken = []

    @contextmanager
    def record(entry, progress):
        taken.append(entry.path)
        if len(taken) == len(workloads):
            raise _Locked  # every lock taken: stop before any search runs
        yield

    monkeypatch.setattr(tune_module, "_tuning_lock", record)
    with pytest.raises(_Locked):
        autotune.tune_many([workloads[i] for i in order], cpu, trials=4, log_dir=tmp_path,
                           progress=False)
    assert taken == sorted(taken, key=str)
