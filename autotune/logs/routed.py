"""One MetaSchedule database over many per-workload logs, for tuning several tasks at once.

MetaSchedule's task scheduler takes a single database; this one hands each call to the log
of the workload it concerns, so a suite tuned under one budget still writes one plain
JSONDatabase per (target, workload) folder.
"""

from __future__ import annotations

import tvm_ffi
from tvm.ir import IRModule
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.database import PyDatabase

from autotune.logs.store import LogEntry


@derived_object
class RoutedDatabase(PyDatabase):
    """Routes every workload and record to the JSONDatabase of its own log."""

    def __init__(self, entries: list[LogEntry]) -> None:
        super().__init__()
        self.routes = [(e.workload.module(e.target), e.database()) for e in entries]

    def _db(self, mod: IRModule) -> ms.database.JSONDatabase:
        for known, db in self.routes:
            if tvm_ffi.structural_equal(known, mod):
                return db
        raise KeyError("workload is not one of the logs this database routes to")

    def has_workload(self, mod: IRModule) -> bool:
        return self._db(mod).has_workload(mod)

    def commit_workload(self, mod: IRModule):
        return self._db(mod).commit_workload(mod)

    def commit_tuning_record(self, record) -> None:
        self._db(record.workload.mod).commit_tuning_record(record)

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
