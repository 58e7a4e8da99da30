"""``autotune.inspect``: one tuned kernel, from a log or a package, in words and code."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import tvm
from tvm.s_tir.schedule import Trace

from autotune.errors import LogError, PackageError, first_line
from autotune.hardware.target import resolve_target, target_arch, target_key
from autotune.inspection.assembly import AsmSummary, summarize_asm
from autotune.inspection.schedule import describe_trace, loop_nest, side_by_side, template_blocks
from autotune.logs.store import DEFAULT_LOG_DIR, LogStore, record_id, record_seconds
from autotune.measure.compile import compile_module, scheduled_module
from autotune.measure.validate import recorded_winner
from autotune.workload import Workload

CODES = ("llvm", "asm")


@dataclass
class KernelView:
    """What one record of one workload is: its time, its schedule, its loops and code."""

    workload: str
    served_by: str  # the layout variant whose log holds the record (the workload itself or one)
    target: str
    source: str  # the log folder or package it was read from
    record: str
    latency_s: float | None  # as measured while tuning
    verdict: str
    trace: list[str]  # MetaSchedule's trace as Python, postprocessing left out
    schedule: list[str]  # the trace in words
    loops: list[str]
    script: str  # the scheduled TVMScript
    asm: AsmSummary | None = None  # CPU targets
    code: str | None = None  # LLVM IR or assembly, when asked for

    def render(self, script: bool = True) -> str:
        """The view as text: a header, the schedule, the loop nest, then code if asked."""
        head = [f"{self.workload} on {self.target}",
                f"record {self.record} from {self.source}",
                f"latency while tuning: {_us(self.latency_s)}; {self.verdict}"]
        if self.served_by != self.workload:
            head.insert(1, f"served by the layout variant {self.served_by}")
        parts = ["\n".join(head), _section("schedule", self.schedule),
                 _section("loop nest", self.loops)]
        if self.asm is not None:
            parts.append(_section("assembly", self.asm.describe().splitlines()))
        if script:
            parts.append("== scheduled TVMScript ==\n" + self.script.rstrip())
        if self.code is not None:
            parts.append("== code ==\n" + self.code.rstrip())
        return "\n\n".join(parts)


def inspect(workload: Workload | str, target="cpu", log_dir: str | Path = DEFAULT_LOG_DIR,
            record: str | None = None, code: str | None = None) -> KernelView:
    """The record serving ``workload`` on ``target`` (default: the fastest validated one of
    its log or its layout variants' logs), or the record whose id starts with ``record``.
    ``code``: "llvm" or "asm" adds the compiled kernel's LLVM IR or assembly."""
    _check_code(code)
    tgt = resolve_target(target)
    wl = Workload.from_key(workload) if isinstance(workload, str) else workload
    store = LogStore(log_dir)
    variant, found = (_serving(store, wl, tgt, log_dir) if record is None
                      else _find_record(store, wl, tgt, record))
    entry = store.open(variant, tgt)
    rid = record_id(found)
    seconds = record_seconds(found)
    try:
        module = scheduled_module(variant, found)
    except Exception as err:  # noqa: BLE001 - a record this TVM no longer applies
        raise LogError(f"record {rid} of {variant.key} does not apply to its template: "
                       f"{first_line(err)}") from None
    return _view(wl, variant, tgt, str(entry.path), rid,
                 seconds if math.isfinite(seconds) else None,
                 _verdict(entry.verdicts().get(rid)), found.trace, module, code)


def inspect_package(path: str | Path, key: str, code: str | None = None) -> KernelView:
    """The kernel ``key`` (its workload key or symbol) of a package, from the trace its
    manifest keeps: nothing is tuned, and the library is not loaded."""
    from autotune.deploy.manifest import read_manifest

    _check_code(code)
    manifest = read_manifest(path)
    kernels = manifest.get("kernels") or []
    entry = next((k for k in kernels if key in (k.get("key"), k.get("symbol"))), None)
    if entry is None:
        known = ", ".join(str(k.get("key")) for k in kernels) or "none"
        raise PackageError(f"{path} has no kernel {key!r} (it has: {known})")
    if not entry.get("trace"):
        reason = ("its schedule is TVM's default, not a tuned one"
                  if entry.get("schedule") == "default" else
                  "the manifest keeps no schedule trace (exported before autotune kept "
                  "them); export it again from its logs")
        raise PackageError(f"cannot show {key} of {path}: {reason}")
    try:  # a manifest may come from anyone
        tgt = tvm.target.Target(manifest["target"])
        wl = Workload.from_json(entry["workload"])
        variant = Workload.from_key(entry["variant"]) if entry.get("variant") else wl
    except Exception as err:  # noqa: BLE001 - TVM and the workload parser raise several types
        raise PackageError(f"{path}: kernel {key} names no workload or target autotune "
                           f"reads: {first_line(err)}") from None
    sch = tvm.s_tir.Schedule(variant.module(tgt))
    try:
        Trace.apply_json_to_schedule(entry["trace"], sch)
        trace = sch.trace
    except Exception as err:  # noqa: BLE001 - a trace that does not replay on this template
        raise PackageError(f"the trace of {key} in {path} does not apply to {variant.key}: "
                           f"{first_line(err)}") from None
    verdict = "validated against NumPy at export" if entry.get("validated") else "not validated"
    return _view(wl, variant, tgt, f"package {path}", str(entry.get("record")),
                 entry.get("tuning_latency_s"), verdict, trace, sch.mod, code)


def diff_views(a: KernelView, b: KernelView, width: int | None = None) -> str:
    """Two views' schedules and loop nests side by side."""
    width = width or shutil.get_terminal_size((160, 40)).columns
    titles = (f"{a.record} ({_us(a.latency_s)})", f"{b.record} ({_us(b.latency_s)})")
    return "\n\n".join([
        "== schedule ==\n" + side_by_side(a.schedule, b.schedule, titles, width),
        "== loop nest ==\n" + side_by_side(a.loops, b.loops, titles, width),
    ])


def _view(wl, variant, tgt, source, rid, latency, verdict, trace, module, code) -> KernelView:
    lines = list(trace.as_python(remove_postproc=True))
    script = module.script(show_meta=False)
    view = KernelView(
        workload=wl.key, served_by=variant.key, target=target_key(tgt), source=source,
        record=rid, latency_s=latency, verdict=verdict, trace=lines,
        schedule=describe_trace(lines, template_blocks(variant.module(tgt))),
        loops=loop_nest(script), script=script)
    if tgt.kind.name != "llvm" and not code:
        return view
    try:
        compiled = compile_module(module, tgt)
    except Exception as err:  # noqa: BLE001 - a schedule this TVM no longer builds
        raise LogError(f"record {rid} of {variant.key} does not build: {first_line(err)}") \
            from None
    if tgt.kind.name == "llvm":
        if target_arch(tgt) in ("x86_64", "i686", "i386"):  # the summary reads x86 assembly
            view.asm = summarize_asm(compiled.inspect_source("asm"))
        if code:
            view.code = compiled.inspect_source("ll" if code == "llvm" else "asm")
    else:  # a GPU kernel: its generated source (CUDA C) stands for assembly
        device = [m for m in compiled.imports if m.kind != "llvm"]
        view.code = (device[0] if device else compiled).inspect_source()
    return view


def _serving(store: LogStore, wl: Workload, tgt, log_dir) -> tuple[Workload, object]:
    """The record that serves ``wl``, read-only (nothing is validated or written): in each
    variant's log the fastest record with a passing verdict, else the fastest not yet
    validated (never one that failed); the recorded winning variant's, else the fastest."""
    found = {}
    for variant in wl.variants():
        try:
            entry = store.open(variant, tgt)
        except LogError:
            continue
        verdicts = entry.verdicts()
        records = sorted((r for r in entry.database().get_all_tuning_records()
                          if str(r.target) == str(tgt)
                          and math.isfinite(record_seconds(r))), key=record_seconds)
        ok = [r for r in records if verdicts.get(record_id(r), {}).get("ok")]
        unchecked = [r for r in records if record_id(r) not in verdicts]
        if ok or unchecked:
            found[variant.key] = (variant, (ok or unchecked)[0], bool(ok))
    if not found:
        raise LogError(f"no usable record for {wl.key} on {target_key(tgt)} under {log_dir}; "
                       "tune it first, or name a record with --record")
    winner = recorded_winner(store, wl, tgt)
    if winner in found:
        variant, record, _ok = found[winner]
    else:  # validated ones first, then the fastest
        variant, record, _ok = min(found.values(), key=lambda v: (not v[2], record_seconds(v[1])))
    return variant, record


def _find_record(store: LogStore, wl: Workload, tgt, prefix: str):
    """The variant whose log holds the record whose id starts with ``prefix``, and it."""
    hits = []
    for variant in wl.variants():
        try:
            db = store.open(variant, tgt).database()
        except LogError:
            continue
        hits += [(variant, r) for r in db.get_all_tuning_records()
                 if record_id(r).startswith(prefix)]
    ids = {record_id(r) for _v, r in hits}
    if len(ids) != 1:
        what = "no record" if not ids else f"{len(ids)} records"
        raise LogError(f"{what} of {wl.key} on {target_key(tgt)} has an id starting with "
                       f"{prefix!r}; `autotune logs show {wl.key}` lists them")
    return hits[0]


def _verdict(verdict: dict | None) -> str:
    if verdict is None:
        return "not validated yet"
    if verdict["ok"]:
        return "validated against NumPy"
    return f"wrong: {verdict.get('error', 'failed validation')}"


def _check_code(code: str | None) -> None:
    if code is not None and code not in CODES:
        raise ValueError(f"code must be one of {', '.join(CODES)}, got {code!r}")


def _section(title: str, lines: list[str]) -> str:
    return f"== {title} ==\n" + ("\n".join(lines) if lines else "(none)")


def _us(seconds: float | None) -> str:
    return f"{seconds * 1e6:.2f} us" if seconds else "not measured"
