"""A JSON-lines event file beside each log, so scripts and plots can follow a tuning run.

One line per measured candidate (``{"event": "trial", ...}``) plus ``start``/``end`` lines.
Trial numbers and elapsed seconds continue across resumed runs of the same log. In a run
that tunes several logs together, ``elapsed_s`` counts only the time charged to this log
(``EventLog.charge``), so the logs' seconds add up to the run's and never count twice.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback

from autotune.logs.store import run_seconds

EVENTS = "events.jsonl"


def read_events(path: Path) -> list[dict]:
    """The events of a log directory's file. A line that is not an event (a torn last line
    from a crash mid-write, bytes that are not UTF-8, a trial without its number and time)
    is skipped."""
    file = Path(path) / EVENTS
    if not file.exists():
        return []
    events = []
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and (event.get("event") != "trial" or _trial_ok(event)):
            events.append(event)
    return events


def _trial_ok(event: dict) -> bool:
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return (isinstance(event.get("trial"), int) and number(event.get("elapsed_s"))
            and (event.get("run_s") is None or number(event["run_s"])))


def trials_done(path: Path) -> int:
    """Trials measured into a log folder so far, over all runs."""
    return max((e["trial"] for e in read_events(path) if e.get("event") == "trial"), default=0)


def tuning_curve(path: Path, flops: float) -> pd.DataFrame:
    """Per trial: elapsed seconds, its latency (NaN if it failed), best so far, best GFLOP/s."""
    return curve_of(read_events(path), flops)


def curve_of(events: list[dict], flops: float) -> pd.DataFrame:
    """``tuning_curve`` of events already read (``read_events``)."""
    trials = [e for e in events if e.get("event") == "trial"]
    frame = pd.DataFrame(
        {
            "trial": [e["trial"] for e in trials],
            "elapsed_s": [e["elapsed_s"] for e in trials],
            "latency_us": [e["run_s"] * 1e6 if e.get("run_s") else np.nan for e in trials],
        }
    )
    frame["best_us"] = frame["latency_us"].cummin().ffill()  # a failed trial keeps the best
    frame["best_gflops"] = flops / (frame["best_us"] * 1e-6) / 1e9
    return frame


@derived_object
class EventLog(PyMeasureCallback):
    """Appends one line per measured candidate to ``<log>/events.jsonl``."""

    def __init__(self, path: Path, workload_key: str, planned: int | None, *,
                 shared: bool = False, reference: tuple[str, float] | None = None,
                 run: str | None = None) -> None:
        """``planned``: the trials this log is to reach in this run (None: not known, as in a
        shared budget). ``shared``: the run tunes other logs too; the clock runs only on
        ``charge``. ``reference``: the fastest library's name and a quick time of it, when
        known. ``run``: an id every event of this run carries, in every log it tunes (so
        ``autotune watch`` knows a run is alive while it tunes another log)."""
        super().__init__()
        self.run = run
        self.shared = shared
        self.charged = 0.0
        self.file = Path(path) / EVENTS
        past = [e for e in read_events(path) if e.get("event") == "trial"]
        self.trial = past[-1]["trial"] if past else 0
        self.offset = past[-1]["elapsed_s"] if past else 0.0
        finite = [e["run_s"] for e in past if e.get("run_s")]
        self.best = min(finite, default=math.inf)
        self.started = time.perf_counter()
        start = {"event": "start", "workload": workload_key, "planned": planned,
                 "trials_before": self.trial}
        if reference:
            start["reference"] = {"library": reference[0], "latency_s": reference[1]}
        self._write(start)

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        for built, ran in zip(builder_results, runner_results):
            self.trial += 1
            error = built.error_msg or ran.error_msg
            run_s = None if error else run_seconds(ran.run_secs)
            if run_s is not None:
                self.best = min(self.best, run_s)
            self._write({
                "event": "trial",
                "trial": self.trial,
                "elapsed_s": round(self.elapsed(), 4),
                "run_s": run_s,
                "best_s": self.best if math.isfinite(self.best) else None,
                "error": str(error).strip().splitlines()[0][:200] if error else None,
            })

    def charge(self, seconds: float) -> None:
        """Count ``seconds`` of a shared run (the search and measurement of a batch) as ours."""
        self.charged += seconds

    def elapsed(self) -> float:
        """Seconds spent on this log over all runs: wall time, or the time charged if shared."""
        own = self.charged if self.shared else time.perf_counter() - self.started
        return self.offset + own

    def close(self) -> None:
        self._write({"event": "end", "trials": self.trial, "elapsed_s": round(self.elapsed(), 4)})

    def _write(self, event: dict) -> None:
        event["time"] = round(time.time(), 3)
        if self.run:
            event["run"] = self.run
        with open(self.file, "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")
