"""One MetaSchedule database over many per-workload logs, for tuning several tasks at once.

MetaSchedule's task scheduler takes a single database; this one hands each call to the log
of the workload it concerns, so a suite tuned under one budget still writes one plain
JSONDatabase per (target, workload) folder.

MetaSchedule appends a line and never checks the write: on a full disk a record is lost
or torn silently, and the next append lands on the torn end. Every commit here is checked:
a line not written whole is cut off again (truncating needs no space) and the commit fails
with ``RecordNotWritten``, which ends the search, so the log holds only whole lines and no
trial is counted whose record is not in it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import tvm_ffi
from tvm.ir import IRModule
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.database import PyDatabase

from autotune.errors import LogError
from autotune.logs.store import LogEntry


class RecordNotWritten(LogError):
    """A line of a log could not be written whole (a full disk, a file that went away)."""


@derived_object
class RoutedDatabase(PyDatabase):
    """Routes every workload and record to the JSONDatabase of its own log."""

    def __init__(self, entries: list[LogEntry]) -> None:
        super().__init__()
        self.routes = [(e.workload.module(e.target), e.database()) for e in entries]
        self.files = [(Path(db.path_workload), Path(db.path_tuning_record))
                      for _mod, db in self.routes]  # where each database appends
        self.failed: RecordNotWritten | None = None  # the write that ended the search

    def _route(self, mod: IRModule) -> int:
        for i, (known, _db) in enumerate(self.routes):
            if tvm_ffi.structural_equal(known, mod):
                return i
        raise KeyError("workload is not one of the logs this database routes to")

    def _db(self, mod: IRModule) -> ms.database.JSONDatabase:
        return self.routes[self._route(mod)][1]

    def has_workload(self, mod: IRModule) -> bool:
        return self._db(mod).has_workload(mod)

    def commit_workload(self, mod: IRModule):
        i = self._route(mod)
        db = self.routes[i][1]
        if db.has_workload(mod):  # nothing is written
            return db.commit_workload(mod)
        with _whole_line(self.files[i][0], self):
            return db.commit_workload(mod)

    def commit_tuning_record(self, record) -> None:
        i = self._route(record.workload.mod)
        with _whole_line(self.files[i][1], self):
            self.routes[i][1].commit_tuning_record(record)

    def get_top_k(self, workload, top_k: int):
        return self._db(workload.mod).get_top_k(workload, top_k)

    def get_all_tuning_records(self):
        return [r for _, db in self.routes for r in db.get_all_tuning_records()]

    def query_tuning_record(self, mod, target, workload_name=None):
        return self._db(mod).query_tuning_record(mod, target, workload_name)

    def query_schedule(self, mod, target, workload_name=None):
        return self._db(mod).query_schedule(mod, target, workload_name)

    def query_ir_module(self, mod, target, workload_name=None):
        return self._db(mod).query_ir_module(mod, target, workload_name)

    def __len__(self) -> int:
        return sum(len(db) for _, db in self.routes)


@contextlib.contextmanager
def _whole_line(file: Path, owner: RoutedDatabase) -> Iterator[None]:
    """Checks that what the body appended to ``file`` ends a line; else cuts the file back
    to its old end and raises RecordNotWritten (also kept on ``owner.failed``)."""
    before = _size(file)
    yield
    size = _size(file)
    if size > before and _last_byte(file) == b"\n":
        return
    if size > before:
        os.truncate(file, before)
    owner.failed = RecordNotWritten(
        f"a line could not be written to {file} (is the disk full?): the search stopped "
        "there, every whole record is kept and the lost ones are measured again when it "
        "runs again")
    raise owner.failed


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except FileNotFoundError:
        return 0


def _last_byte(file: Path) -> bytes:
    with open(file, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)
