"""``autotune watch``: the searches under a log directory, live, read from their
``events.jsonl`` files alone (nothing is locked or written there, so watching never slows
or blocks a search)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from autotune.logs.events import EVENTS, curve_of, read_events
from autotune.logs.store import META, read_meta

STALE_S = 600.0  # a run with no event for this long, in any log it tunes, has stopped
PLOT_EVERY_S = 30.0  # --plots redraws at most this often
_BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class SearchState:
    """One log's search as its events tell it."""

    target: str
    workload: str
    status: str  # running, done, stopped (no end event: killed or crashed), no events
    trials: int
    planned: int | None  # trials the last run was to reach, when it had a trial budget
    best_s: float | None
    gflops: float | None
    reference: tuple[str, float] | None  # fastest library and its quick time, when known
    elapsed_s: float
    curve: list[float]  # best GFLOP/s so far, per trial (0 before the first success)

    @property
    def speedup(self) -> float | None:
        return self.reference[1] / self.best_s if self.reference and self.best_s else None


def search_states(log_dir: str | Path, now: float | None = None) -> list[SearchState]:
    """Every log folder under ``log_dir`` (``<target key>/<workload key>``), with or without
    events."""
    now = time.time() if now is None else now
    logs = {folder: read_events(folder) for folder in _folders(log_dir)}
    heard: dict[str, float] = {}  # the last event of each run, over all the logs it tunes
    for events in logs.values():
        for event in events:
            if isinstance(event.get("run"), str):
                heard[event["run"]] = max(heard.get(event["run"], 0.0), _time(event))
    return [_state(folder, events, now, heard) for folder, events in logs.items()]


def _folders(log_dir: str | Path) -> list[Path]:
    """The log folders under ``log_dir``: those with events or a meta.json."""
    root = Path(log_dir)
    found = {p.parent for name in (EVENTS, META) for p in root.glob(f"*/*/{name}")}
    return sorted(folder for folder in found if folder.name != "_suite")


def _state(folder: Path, events: list[dict], now: float, heard: dict[str, float]) -> SearchState:
    trials = [e for e in events if e.get("event") == "trial"]
    starts = [e for e in events if e.get("event") == "start"]
    start = starts[-1] if starts else {}
    flops = _flops(folder)
    best = min((e["run_s"] for e in trials if e.get("run_s")), default=None)
    last = events[-1] if events else None
    if last is None:
        status = "no events"
    elif last.get("event") == "end":
        status = "done"
    elif now - max(_time(last), heard.get(start.get("run"), 0.0)) > STALE_S:
        status = "stopped"  # no end event and nothing heard from its run: killed or crashed
    else:
        status = "running"
    planned = start.get("planned")
    reference = next((s["reference"] for s in reversed(starts) if _reference_ok(s)), None)
    curve = curve_of(events, flops or 1e9)["best_gflops"].fillna(0.0).tolist() if trials else []
    return SearchState(
        target=folder.parent.name, workload=folder.name, status=status,
        trials=trials[-1]["trial"] if trials else 0,
        planned=(planned + int(start.get("trials_before") or 0))
        if isinstance(planned, int) else None,
        best_s=best, gflops=flops / best / 1e9 if flops and best else None,
        reference=(reference["library"], reference["latency_s"]) if reference else None,
        elapsed_s=float(trials[-1]["elapsed_s"]) if trials else 0.0, curve=curve)


def _reference_ok(start: dict) -> bool:
    ref = start.get("reference")
    return (isinstance(ref, dict) and isinstance(ref.get("library"), str)
            and isinstance(ref.get("latency_s"), (int, float)) and ref["latency_s"] > 0)


def _time(event: dict) -> float:
    value = event.get("time")
    return float(value) if isinstance(value, (int, float)) else 0.0


_FLOPS: dict[Path, float] = {}  # a log's workload never changes: read its meta.json once


def _flops(folder: Path) -> float | None:
    """The workload's FLOPs, from the log's meta.json (None while it cannot be read; asked
    again on the next refresh)."""
    from autotune.workload import Workload

    if folder not in _FLOPS:
        try:
            _FLOPS[folder] = float(Workload.from_json(read_meta(folder / META)["workload"]).flops)
        except Exception:  # noqa: BLE001 - a log being created, or damaged: no rate shown
            return None
    return _FLOPS[folder]


def sparkline(values: list[float], width: int = 24) -> str:
    """``values`` (at most ``width`` of them, evenly picked) as ▁..█ between their min and
    max; blank where nothing positive was measured yet."""
    if not values or max(values) <= 0:
        return ""
    if len(values) > width:
        values = [values[round(i * (len(values) - 1) / (width - 1))] for i in range(width)]
    low, high = min(values), max(values)
    if high == low:  # the best came first
        return _BARS[-1] * len(values)
    return "".join(_BARS[min(7, int((v - low) / (high - low) * 7.999))] for v in values)


def tables(states: list[SearchState], log_dir: str | Path) -> Group:
    """The states as rich tables, one per target."""
    colours = {"running": "green", "done": "cyan", "stopped": "red", "no events": "dim"}
    views = []
    for target in dict.fromkeys(s.target for s in states):
        view = Table(title=f"{log_dir}/{target}", title_justify="left")
        for column, justify in (("workload", "left"), ("status", "left"), ("trials", "right"),
                                ("best us", "right"), ("GFLOP/s", "right"),
                                ("vs library", "right"), ("best so far", "left"),
                                ("tuning time", "right")):
            view.add_column(column, justify=justify, no_wrap=column != "workload")
        for s in (s for s in states if s.target == target):
            trials = f"{s.trials}/{s.planned}" if s.planned else str(s.trials)
            versus = f"{s.speedup:.2f}x {s.reference[0]}" if s.speedup else "-"
            view.add_row(s.workload, f"[{colours[s.status]}]{s.status}[/]", trials,
                         f"{s.best_s * 1e6:.2f}" if s.best_s else "-",
                         f"{s.gflops:.1f}" if s.gflops else "-", versus, sparkline(s.curve),
                         _duration(s.elapsed_s))
        views.append(view)
    return Group(*views) if views else Group(f"no tuning logs under {log_dir} yet")


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s"


def write_plots(log_dir: str | Path, out: str | Path) -> list[Path]:
    """Best GFLOP/s so far against trials and against time, a line per log, as two PNGs
    in ``out`` (``curves-trials.png``, ``curves-time.png``)."""
    from autotune.report.plots import curve_plots

    frames = []
    for folder in _folders(log_dir):
        flops, events = _flops(folder), read_events(folder)
        if flops and any(e.get("event") == "trial" for e in events):
            frames.append(curve_of(events, flops).assign(workload=folder.name))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return curve_plots(curves, out / "curves-trials.png", out / "curves-time.png")


def watch(log_dir: str | Path, interval: float = 2.0, once: bool = False,
          plots: str | Path | None = None, console: Console | None = None) -> None:
    """Show the table (and rewrite the PNGs in ``plots``) every ``interval`` seconds until
    Ctrl-C; ``once``: show it a single time."""
    console = console or Console()
    if not console.is_terminal:  # a pipe or a file: keys whole rather than folded at 80
        console = Console(file=console.file, width=max(console.width, 200))
    if once:
        console.print(tables(search_states(log_dir), log_dir))
        if plots:
            write_plots(log_dir, plots)
        return
    drawn, drawn_at = None, 0.0
    with Live(tables(search_states(log_dir), log_dir), console=console,
              refresh_per_second=4) as live:
        while True:
            changed = _events_changed(log_dir)
            if plots and changed != drawn and time.monotonic() - drawn_at >= PLOT_EVERY_S:
                write_plots(log_dir, plots)  # only when events landed, at most this often
                drawn, drawn_at = changed, time.monotonic()
            time.sleep(interval)
            live.update(tables(search_states(log_dir), log_dir))


def _events_changed(log_dir: str | Path) -> tuple:
    """The events files' sizes and modification times: a change means new events."""
    found = []
    for file in sorted(Path(log_dir).glob(f"*/*/{EVENTS}")):
        try:
            stat = file.stat()
        except OSError:
            continue
        found.append((str(file), stat.st_size, stat.st_mtime_ns))
    return tuple(found)
