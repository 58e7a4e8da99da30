"""The report stage: a results table (and tuning curves) in, PNG figures and report.md out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autotune.errors import AutotuneError
from autotune.report.plots import (
    ROOFLINE_COLUMNS,
    TUNED,
    UNTUNED,
    baselines,
    curve_plots,
    is_baseline,
    positive_value,
    require_columns,
    roofline_plot,
    speedup_plot,
)

REPORT_NAME = "report.md"
SPEEDUP_PNG = "speedup.png"
ROOFLINE_PNG = "roofline.png"
TRIALS_PNG = "tuning_trials.png"
TIME_PNG = "tuning_time.png"

RESULTS_COLUMNS = tuple(dict.fromkeys((
    "workload", "kernel", "implementation", "median_us", "min_us", "max_us", "spread",
    "gflops", "roofline_fraction", "speedup_vs_best_baseline", "correct", "validated",
    "host", "target", "tvm_version", "threads", "date", "command",
) + ROOFLINE_COLUMNS))

Table = pd.DataFrame | str | Path


def read_table(source: Table, what: str) -> pd.DataFrame:
    """A DataFrame as given, or read from a .csv or .parquet file."""
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.is_file():
        raise AutotuneError(f"the {what} file {path} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError:  # What pandas writes for a table without columns.
        return pd.DataFrame()
    except ImportError:  # Parquet without pyarrow
        raise AutotuneError(f"reading {path} needs pyarrow: pip install 'autotune[parquet]', "
                            "or give the .csv written beside it") from None
    except (OSError, ValueError) as exc:
        raise AutotuneError(f"cannot read the {what} file {path}: {exc}") from exc
    raise AutotuneError(f"the {what} file {path} is neither .csv nor .parquet.")


def _check_results(results: pd.DataFrame) -> None:
    require_columns(results, RESULTS_COLUMNS, "results table")
    dup = results.duplicated(["workload", "implementation"]).sum()
    if dup:
        raise AutotuneError(
            f"the results table has {dup} repeated workload/implementation row(s); "
            "report one run at a time."
        )


def _truthy(value: object) -> bool | None:
    """Booleans as read back from CSV or Parquet; None when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _meta(results: pd.DataFrame, column: str) -> str:
    values = [str(v) for v in pd.unique(results[column].dropna())]
    return " / ".join(values) if values else "unknown"


def _fmt_us(value: float) -> str:
    if not np.isfinite(value):
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _fmt_num(value: float, digits: int = 2, suffix: str = "") -> str:
    return f"{value:,.{digits}f}{suffix}" if np.isfinite(value) else "—"


def _yes_no(value: object) -> str:
    flag = _truthy(value)
    return "—" if flag is None else ("yes" if flag else "**no**")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                   numeric: Sequence[bool] | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``numeric`` columns are right-aligned."""
    numeric = numeric or [False] * len(header)

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_rows(results: pd.DataFrame) -> pd.DataFrame:
    """One row per workload: tuned median, best baseline and its median, speedup, checks."""
    rows = []
    for key, grp in results.groupby("workload", sort=False):
        tuned = grp[grp["implementation"] == TUNED]
        base = grp[grp["implementation"].map(is_baseline) & (grp["median_us"] > 0)]
        best = base.loc[base["median_us"].idxmin()] if not base.empty else None
        t = tuned.iloc[0] if not tuned.empty else None
        untuned = grp.loc[grp["implementation"] == UNTUNED, "median_us"]
        nan = math.nan

        def value(row, column):
            return float(row[column]) if row is not None and column in row else nan

        rows.append({
            "workload": key,
            "kernel": grp["kernel"].iloc[0],
            "tuned_us": float(t["median_us"]) if t is not None else nan,
            "untuned_us": float(untuned.iloc[0]) if len(untuned) else nan,
            "baseline": best["implementation"] if best is not None else None,
            "baseline_us": float(best["median_us"]) if best is not None else nan,
            "speedup": float(t["speedup_vs_best_baseline"]) if t is not None else nan,
            "roofline_fraction": float(t["roofline_fraction"]) if t is not None else nan,
            "call_overhead_us": value(t, "call_overhead_us"),
            "prepacked_us": value(t, "prepacked_us"),
            "isa_peak_fraction": value(t, "isa_peak_fraction"),
            "baseline_roofline_fraction": value(best, "roofline_fraction"),
            "baseline_isa_peak_fraction": value(best, "isa_peak_fraction"),
            "validated": _truthy(t["validated"]) if t is not None else None,
            "correct": _truthy(t["correct"]) if t is not None else None,
            "variant": _variant_kernel(t),
        })
    return pd.DataFrame(rows)


def _variant_kernel(tuned: pd.Series | None) -> str | None:
    """The layout variant whose kernel served a tuned row, if it is not the workload itself."""
    if tuned is None or not isinstance(tuned.get("variant"), str) or not tuned["variant"]:
        return None
    kernel = tuned["variant"].split("-")[0]
    return kernel if kernel != tuned["kernel"] else None


def _left_out_reason(row: pd.Series) -> str | None:
    """Why a workload's speedup does not enter the summary, or None if it does."""
    timed = np.isfinite(row["tuned_us"]) and row["tuned_us"] > 0
    if row["correct"] is False:
        return f"{TUNED} output wrong" if timed else f"no correct {TUNED} kernel"
    if not timed:
        return f"no {TUNED} timing"
    if not (np.isfinite(row["speedup"]) and row["speedup"] > 0):
        return "no baseline timing"
    return None


def counted_speedups(summary: pd.DataFrame) -> tuple[pd.Series, dict[str, int]]:
    """The speedups that enter the summary, and how many workloads were left out, by reason.

    A workload counts when its tuned kernel was timed, is not known to be wrong, and has a
    finite speedup over the best baseline.
    """
    reasons = summary.apply(_left_out_reason, axis=1) if len(summary) else pd.Series([])
    counted = summary.loc[reasons.isna().to_numpy(), "speedup"]
    return counted, reasons.dropna().value_counts().to_dict()


def geomean_speedup(summary: pd.DataFrame) -> float:
    """Geometric mean of the counted tuned-over-best-baseline speedups (NaN if none)."""
    used, _ = counted_speedups(summary)
    return float(np.exp(np.log(used).mean())) if len(used) else math.nan


def _summary_lines(summary: pd.DataFrame) -> list[str]:
    used, left_out = counted_speedups(summary)
    lines = [f"- Workloads: **{len(summary)}**"]
    if len(used):
        wins, n = int((used > 1).sum()), len(used)
        lines += [
            f"- Geometric-mean speedup of {TUNED} over the best baseline: "
            f"**{geomean_speedup(summary):.2f}x** (over {n} workload{'s' if n != 1 else ''})",
            f"- {TUNED} beats the best baseline on **{wins} of {n}** workloads "
            f"({100 * wins / n:.0f}%)",
        ]
    else:
        lines.append(f"- No workload has both a correct {TUNED} kernel and a baseline to compare.")
    lines += [f"- Left out of the speedup summary: {count} workload(s), {reason}"
              for reason, count in left_out.items()]
    slower = summary[summary["tuned_us"] > summary["untuned_us"]]  # NaN compares False
    if len(slower):
        lines.append(
            f"- {TUNED} is slower than TVM's untuned kernel on **{len(slower)}** workload(s), "
            f"which need more trials: " + ", ".join(f"`{k}`" for k in slower["workload"]))
    return lines


def _suite_summaries(results: pd.DataFrame) -> list[str]:
    """The summary again for each suite, when the table holds more than one."""
    if "suite" not in results or results["suite"].nunique() < 2:
        return []
    lines = []
    for suite, grp in results.groupby("suite", sort=False):
        lines += [f"### Suite `{suite}`", "", *_summary_lines(summary_rows(grp)), ""]
    return lines


def _workload_table(summary: pd.DataFrame) -> str:
    header = ["Workload", "Kernel", "Tuned median (µs)", "Call overhead (µs)",
              "Weights packed once (µs)", "Best baseline",
              "Baseline median (µs)", "Speedup", "Tuned / baseline roofline",
              "Tuned / baseline ISA peak", "Validated", "Correct"]

    def pair(a: float, b: float) -> str:
        return f"{_fmt_num(100 * a, 0, '%')} / {_fmt_num(100 * b, 0, '%')}"

    rows = [[f"`{r.workload}`",
             f"{r.kernel} (as {r.variant})" if isinstance(r.variant, str) else r.kernel,
             _fmt_us(r.tuned_us), _fmt_num(r.call_overhead_us, 1), _fmt_us(r.prepacked_us),
             r.baseline or "—",
             _fmt_us(r.baseline_us), _fmt_num(r.speedup, 2, "x"),
             pair(r.roofline_fraction, r.baseline_roofline_fraction),
             pair(r.isa_peak_fraction, r.baseline_isa_peak_fraction), _yes_no(r.validated),
             _yes_no(r.correct)] for r in summary.itertuples()]
    numeric = [False, False, True, True, True, False, True, True, True, True, False, False]
    return markdown_table(header, rows, numeric)


def _note(value: object, limit: int = 80) -> str:
    """An error message shortened for a table cell ('' when there is none)."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail_tables(results: pd.DataFrame) -> list[str]:
    header = ["Implementation", "Median (µs)", "Min (µs)", "Max (µs)", "Spread", "GFLOP/s",
              "Roofline fraction", "Correct", "Note"]
    numeric = [False, True, True, True, True, True, True, False, False]
    out = []
    for key, grp in results.groupby("workload", sort=False):
        notes = grp["error"] if "error" in grp.columns else pd.Series("", index=grp.index)
        grp = grp.assign(note_=notes.map(_note)).sort_values("median_us")
        rows = [[r.implementation, _fmt_us(r.median_us), _fmt_us(r.min_us), _fmt_us(r.max_us),
                 _fmt_num(100 * r.spread, 1, "%"), _fmt_num(r.gflops, 2),
                 _fmt_num(100 * r.roofline_fraction, 1, "%"), _yes_no(r.correct), r.note_]
                for r in grp.itertuples()]
        out += [f"### `{key}`", "", markdown_table(header, rows, numeric), ""]
    return out


def _fence(text: str) -> str:
    """A fenced code block whose fence is longer than any backtick run in ``text``."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}sh\n{text}\n{fence}"


def _peaks(results: pd.DataFrame) -> tuple[float, float] | None:
    """(peak GFLOP/s, peak GB/s) if the run measured them, else None."""
    try:
        return positive_value(results, "peak_gflops"), positive_value(results, "peak_gbps")
    except AutotuneError:
        return None


def _header_lines(results: pd.DataFrame) -> list[str]:
    peaks = _peaks(results)
    peak_line = "not measured for this target" if peaks is None else (
        f"{peaks[0]:,.1f} GFLOP/s compute, {peaks[1]:,.1f} GB/s memory "
        f"(ridge point {peaks[0] / peaks[1]:.2f} FLOP/byte)")
    commands = "\n".join(str(c) for c in pd.unique(results["command"].dropna()))
    return [
        f"- Host: {_meta(results, 'host')}",
        f"- Target: `{_meta(results, 'target')}`",
        f"- TVM version: {_meta(results, 'tvm_version')}",
        f"- Threads: {_meta(results, 'threads')}",
        f"- Date: {_meta(results, 'date')}",
        f"- Measured peaks: {peak_line}",
        *_isa_line(results),
        *_tuning_time_line(results),
        "",
        "Command that produced these results:",
        "",
        _fence(commands or "unknown"),
    ]


def _isa_line(results: pd.DataFrame) -> list[str]:
    """The theoretical peak, when the table has it."""
    if "isa_peak_gflops" not in results or not (results["isa_peak_gflops"] > 0).any():
        return []
    source = _meta(results, "isa_peak_source") if "isa_peak_source" in results else ""
    return [f"- ISA peak: {positive_value(results, 'isa_peak_gflops'):,.1f} GFLOP/s float32"
            + (f" ({source})" if source else "")]


def _tuning_time_line(results: pd.DataFrame) -> list[str]:
    """Total search time and trials of the tuned kernels, when the table has them."""
    if not {"tuning_s", "trials"} <= set(results.columns):
        return []
    tuned = results[results["implementation"] == TUNED]
    seconds, trials = float(tuned["tuning_s"].sum()), int(tuned["trials"].sum())
    if not trials:
        return []
    return [f"- Tuning: {trials:,} trials in {seconds / 60:.0f} minutes of search "
            f"({seconds / trials:.2f} s per trial)"]


def _figures(results: pd.DataFrame, curves: pd.DataFrame | None, out: Path) -> list[str]:
    """Draw every figure the inputs allow; Markdown lines embedding them."""
    lines = []
    if (results["implementation"] == TUNED).any() and baselines(results):
        speedup_plot(results, out / SPEEDUP_PNG)
        lines += ["### Speedup", "",
                  f"![Speedup of {TUNED} over each baseline]({SPEEDUP_PNG})", ""]
    else:
        lines += [f"No speedup figure: the table has no {TUNED} rows or no baselines.", ""]
    plottable = (pd.to_numeric(results["gflops"], errors="coerce") > 0) & (
        pd.to_numeric(results["intensity"], errors="coerce") > 0)
    if _peaks(results) and plottable.any():
        roofline_plot(results, out / ROOFLINE_PNG)
        lines += ["### Roofline", "", f"![Roofline]({ROOFLINE_PNG})", ""]
    else:
        lines += ["No roofline: the machine peaks were not measured or nothing was timed.", ""]
    if curves is not None:
        subtitle = " — ".join((_meta(results, "target"), _meta(results, "host")))
        paths = curve_plots(curves, out / TRIALS_PNG, out / TIME_PNG, subtitle=subtitle)
        if paths:
            lines += ["### Tuning progress", "",
                      f"![Best GFLOP/s against trials]({paths[0].name})", "",
                      f"![Best GFLOP/s against wall time]({paths[1].name})", ""]
    return lines


def write_report(results: Table, out_dir: str | Path, curves: Table | None = None) -> Path:
    """Write the figures and ``report.md`` into ``out_dir``; return the report's path.

    ``results`` and ``curves`` are DataFrames or .csv/.parquet paths. Raises AutotuneError
    for a missing or unreadable file, an empty results table or missing columns.
    """
    results = read_table(results, "results table")
    _check_results(results)
    curve_df = read_table(curves, "tuning curves table") if curves is not None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_rows(results)
    text = [
        f"# Auto-tuning report: {_meta(results, 'target')}",
        "",
        *_header_lines(results),
        "",
        "## Summary",
        "",
        *_summary_lines(summary),
        "",
        *_suite_summaries(results),
        "## Workloads",
        "",
        _workload_table(summary),
        "",
        "Speedup: best baseline median / tuned median. The tuned median is the package "
        "call a user makes (NumPy arrays in, written into a NumPy out=); the call overhead is "
        "that minus the bare kernel on tensors made once. Roofline: GFLOP/s over "
        "min(measured peak GFLOP/s, intensity × measured peak GB/s). ISA peak: GFLOP/s "
        "over the theoretical float32 peak.",
        "",
        "## Figures",
        "",
        *_figures(results, curve_df, out),
        "## Every implementation",
        "",
        *_detail_tables(results),
    ]
    path = out / REPORT_NAME
    path.write_text("\n".join(text).rstrip() + "\n", encoding="utf-8")
    return path
