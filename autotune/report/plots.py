"""Figures for the report: speedup bars, tuning curves and a roofline, written as PNG files.

Everything draws on its own ``matplotlib.figure.Figure`` (Agg canvas), so no global pyplot
state is touched and the module is safe to use from scripts, tests and worker processes.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from itertools import cycle
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from autotune.errors import AutotuneError

TUNED = "tvm-tuned"
UNTUNED = "tvm-untuned"
SPEEDUP_PREFIX = "speedup_vs_"

SPEEDUP_COLUMNS = ("workload", "implementation")
CURVE_COLUMNS = ("workload", "trial", "elapsed_s", "best_gflops")
ROOFLINE_COLUMNS = ("workload", "kernel", "implementation", "intensity", "gflops",
                    "peak_gflops", "peak_gbps")

_DTYPE_PREFIXES = ("float", "int", "uint", "bfloat", "bool")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
_LINESTYLES = ("-", "--", ":", "-.")
_DPI = 150


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise AutotuneError unless ``df`` is a non-empty DataFrame holding ``columns``."""
    if not isinstance(df, pd.DataFrame):
        raise AutotuneError(f"the {what} must be a pandas DataFrame, not {type(df).__name__}.")
    if df.empty:
        raise AutotuneError(f"the {what} has no rows.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AutotuneError(f"the {what} lacks column(s) {', '.join(missing)}.")


def is_baseline(implementation: str) -> bool:
    """Baselines are every implementation that is not one of TVM's (``tvm-*``)."""
    return not str(implementation).startswith("tvm-")


def baselines(results: pd.DataFrame) -> list[str]:
    """Baselines that have rows in the table and a ``speedup_vs_<name>`` column, sorted."""
    present = {str(i) for i in results["implementation"].dropna().unique() if is_baseline(i)}
    return sorted(b for b in present if f"{SPEEDUP_PREFIX}{b}" in results.columns)


def split_dtype(key: str) -> tuple[str, str | None]:
    """``gemm-m64-n65-k66-float32`` -> (``gemm-m64-n65-k66``, ``float32``)."""
    head, _, tail = str(key).rpartition("-")
    if head and tail.startswith(_DTYPE_PREFIXES):
        return head, tail
    return str(key), None


def workload_labels(keys: Sequence[str], width: int = 30) -> tuple[dict[str, str], str | None]:
    """Readable, wrapped labels for workload keys, and the dtype they share (then dropped)."""
    dtypes = {split_dtype(k)[1] for k in keys}
    common = next(iter(dtypes)) if len(dtypes) == 1 else None
    labels = {}
    for key in keys:
        text = split_dtype(key)[0] if common else str(key)
        labels[key] = "\n".join(textwrap.wrap(text.replace("-", " "), width)) or str(key)
    return labels, common


def _one_value(df: pd.DataFrame, column: str) -> str | None:
    """The distinct values of a metadata column joined by ' / ', or None if absent."""
    if column not in df.columns:
        return None
    values = [str(v) for v in pd.unique(df[column].dropna())]
    return " / ".join(values) if values else None


def _caption(df: pd.DataFrame) -> str:
    """'target — host' (whichever of the two the table has)."""
    return " — ".join(v for v in (_one_value(df, "target"), _one_value(df, "host")) if v)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, format="png")
    return path


def _ratio_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks between lo and hi for a log speedup axis (1 always included)."""
    ticks = []
    for exp in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            t = m * 10.0**exp
            if lo <= t <= hi:
                ticks.append(t)
    if len(ticks) > 9:  # Wide ranges: decades only.
        ticks = [t for t in ticks if math.isclose(math.log10(t), round(math.log10(t)))]
    return ticks


def _ratio_text(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}x"
    if x >= 10:
        return f"{x:.1f}x".replace(".0x", "x")
    return f"{x:#.2g}x" if x < 1 else f"{x:.1f}x"


def _speedup_limits(values: np.ndarray, axis_width_in: float) -> tuple[float, float]:
    """Log-axis limits that leave room for the value labels at both bar ends."""
    finite = values[np.isfinite(values) & (values > 0)]
    lo = min(1.0, float(finite.min())) if finite.size else 1.0
    hi = max(1.0, float(finite.max())) if finite.size else 1.0
    span = max(math.log10(hi / lo), math.log10(4.0))
    label_in = 0.5  # Room for a label such as "12.3x" at 8 pt, each side.
    total = span / max(0.3, 1 - 2 * label_in / axis_width_in)
    pad = (total - math.log10(hi / lo)) / 2
    return lo / 10**pad, hi * 10**pad


def is_false(value: object) -> bool:
    """True only for a definite False (bool, 0, or 'false' as read back from CSV)."""
    return str(value).strip().lower() in ("false", "0", "0.0")


def _tuned_flag(row: pd.Series) -> str | None:
    """Why a tuned row's speedups are missing or not to be trusted, if they are."""
    if not is_false(row.get("correct", True)):
        return None
    timed = np.isfinite(pd.to_numeric(row.get("median_us", np.nan), errors="coerce"))
    return "WRONG OUTPUT" if timed else "no correct tuned kernel"


def speedup_plot(results: pd.DataFrame, path: str | Path) -> Path:
    """Bars of the tuned kernel's speedup over each baseline, one group per workload.

    Bars start at the 1x parity line on a log axis, so wins extend right and losses left.
    Raises AutotuneError if the table is empty, lacks columns, has no ``tvm-tuned`` rows or
    no baseline with a ``speedup_vs_<baseline>`` column.
    """
    require_columns(results, SPEEDUP_COLUMNS, "results table")
    tuned = results[results["implementation"] == TUNED].drop_duplicates("workload")
    if tuned.empty:
        raise AutotuneError(f"the results table has no {TUNED} rows to plot speedups for.")
    names = baselines(results)
    if not names:
        raise AutotuneError(
            "the results table has no baseline with a speedup_vs_<baseline> column to plot."
        )
    keys = list(tuned["workload"])
    labels, dtype = workload_labels(keys)
    speedups = tuned[[f"{SPEEDUP_PREFIX}{b}" for b in names]].to_numpy(dtype=float)
    for key, (_, row) in zip(keys, tuned.iterrows()):
        flag = _tuned_flag(row)
        if flag:
            labels[key] += f"\n({flag})"

    n_wl, n_b = len(keys), len(names)
    bar_h = 0.8 / n_b
    label_lines = max(lbl.count("\n") + 1 for lbl in labels.values())
    row_in = max(0.25 * n_b + 0.2, 0.17 * label_lines + 0.12)
    label_w = 0.075 * max(len(line) for lbl in labels.values() for line in lbl.split("\n"))
    fig = _new_figure(max(8.0, label_w + 7.0), 1.4 + n_wl * row_in)
    ax = fig.add_subplot()
    colors = [f"C{i % 10}" for i in range(n_b)]
    for j, (name, color) in enumerate(zip(names, colors)):
        y = np.arange(n_wl) + (j - (n_b - 1) / 2) * bar_h
        s = speedups[:, j]
        ok = np.isfinite(s) & (s > 0)
        ax.barh(y[ok], s[ok] - 1.0, left=1.0, height=bar_h * 0.9, color=color,
                label=f"vs {name}", zorder=2)
        for yi, si, good in zip(y, s, ok):
            if good:
                right = si >= 1
                ax.text(si * (1.03 if right else 1 / 1.03), yi, _ratio_text(si), fontsize=8,
                        va="center", ha="left" if right else "right", zorder=3)
            else:
                ax.text(1.03, yi, "no data", fontsize=7, va="center", ha="left",
                        color="0.4", style="italic")
    ax.axvline(1.0, color="black", linewidth=1.0, zorder=4, label="1x (parity)")
    ax.set_xscale("log")
    lo, hi = _speedup_limits(speedups.ravel(), fig.get_figwidth() - label_w - 2.2)
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(_ratio_ticks(lo, hi)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(np.arange(n_wl), [labels[k] for k in keys], fontsize=8)
    ax.set_ylim(n_wl - 0.5, -0.5)
    ax.grid(axis="x", color="0.85", zorder=0)
    ax.set_xlabel(f"speedup of {TUNED} (baseline median / tuned median, log scale)")
    title = f"{TUNED} speedup over baselines" + (f" ({dtype})" if dtype else "")
    caption = _caption(results)
    ax.set_title(title + (f"\n{caption}" if caption else ""), fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return _save(fig, path)


def _line_styles() -> Iterable[tuple[str, str]]:
    """(color, linestyle) pairs: ten colours, then the next line style, 40 distinct in all."""
    return cycle([(f"C{c}", ls) for ls in _LINESTYLES for c in range(10)])


def _curve_figure(curves: pd.DataFrame, x: str, xlabel: str, title: str,
                  labels: dict[str, str]) -> Figure:
    """A step line per workload; the legend sits under the axes, in up to three columns."""
    longest = max(len(v) for v in labels.values())
    width = 8.0 if len(labels) <= 8 else 11.0
    ncols = max(1, min(3, len(labels), int((width - 0.4) // (0.062 * longest + 0.7))))
    rows = math.ceil(len(labels) / ncols)
    fig = _new_figure(width, 4.4 + 0.19 * rows)
    ax = fig.add_subplot()
    for (key, grp), (color, ls) in zip(curves.groupby("workload", sort=False), _line_styles()):
        grp = grp.sort_values(x)
        ax.step(grp[x], grp["best_gflops"], where="post", color=color, linestyle=ls,
                linewidth=1.5, label=labels[key])
    positive = curves["best_gflops"][curves["best_gflops"] > 0]
    if len(positive) and positive.max() / positive.min() > 30:
        ax.set_yscale("log")
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best GFLOP/s so far")
    ax.set_title(title, fontsize=11)
    ax.grid(color="0.88")
    fig.legend(loc="outside lower center", ncols=ncols, fontsize=8, frameon=False)
    return fig


def curve_plots(curves: pd.DataFrame, path_trials: str | Path, path_time: str | Path,
                subtitle: str | None = None) -> list[Path]:
    """Best GFLOP/s so far against trials and against tuning wall time, a line per workload.

    Returns the two paths written, or ``[]`` (writing nothing) when ``curves`` has no rows
    (even no columns) or no trial with a finite best. Raises AutotuneError if a table with
    rows lacks columns.
    """
    if isinstance(curves, pd.DataFrame) and curves.empty:
        return []
    require_columns(curves, CURVE_COLUMNS, "tuning curves table")
    data = curves.dropna(subset=["trial", "elapsed_s", "best_gflops"])
    if data.empty:
        return []
    labels, dtype = workload_labels(list(pd.unique(data["workload"])), width=40)
    labels = {k: v.replace("\n", " ") for k, v in labels.items()}
    suffix = (f" ({dtype})" if dtype else "") + (f"\n{subtitle}" if subtitle else "")
    out = []
    for x, xlabel, what, path in (
        ("trial", "measured trials", "trials", path_trials),
        ("elapsed_s", "tuning wall time (s)", "wall time", path_time),
    ):
        fig = _curve_figure(data, x, xlabel, f"Tuning progress: best GFLOP/s vs {what}{suffix}",
                            labels)
        out.append(_save(fig, path))
    return out


def positive_value(results: pd.DataFrame, column: str) -> float:
    """The first positive value of a numeric column (a machine ceiling); AutotuneError if none."""
    values = pd.to_numeric(results[column], errors="coerce").dropna()
    values = values[values > 0]
    if values.empty:
        raise AutotuneError(f"the results table has no positive {column} value.")
    return float(values.iloc[0])


def _align_with_line(fig: Figure, ax, text, p0: tuple[float, float],
                     p1: tuple[float, float]) -> None:
    """Rotate ``text`` to the on-screen angle of the line p0-p1 once the layout is final."""
    fig.canvas.draw()
    (x0, y0), (x1, y1) = ax.transData.transform([p0, p1])
    text.set_rotation(math.degrees(math.atan2(y1 - y0, x1 - x0)))


def roofline_plot(results: pd.DataFrame, path: str | Path) -> Path:
    """Log-log roofline: every measured kernel at (FLOP/byte, GFLOP/s) under the machine roof.

    The roof is min(peak_gflops, intensity * peak_gbps) from the table's measured peaks.
    Colour marks the kernel, marker shape the implementation. Raises AutotuneError if the
    table is empty, lacks columns or has no row with positive intensity and GFLOP/s.
    """
    require_columns(results, ROOFLINE_COLUMNS, "results table")
    peak_gflops = positive_value(results, "peak_gflops")
    peak_gbps = positive_value(results, "peak_gbps")
    pts = results.assign(
        intensity=pd.to_numeric(results["intensity"], errors="coerce"),
        gflops=pd.to_numeric(results["gflops"], errors="coerce"),
    )
    pts = pts[(pts["intensity"] > 0) & (pts["gflops"] > 0)]
    if pts.empty:
        raise AutotuneError("the results table has no row with positive intensity and gflops.")
    ridge = peak_gflops / peak_gbps
    x_lo = min(pts["intensity"].min(), ridge) / 4
    x_hi = max(pts["intensity"].max(), ridge) * 4
    xs = np.geomspace(x_lo, x_hi, 400)
    roof = np.minimum(peak_gflops, xs * peak_gbps)
    y_lo = min(pts["gflops"].min(), roof[0]) / 3
    y_hi = max(pts["gflops"].max(), peak_gflops) * 2.5

    fig = _new_figure(8.5, 5.5)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.plot(xs, roof, color="black", linewidth=2, zorder=2)
    ax.axvline(ridge, color="0.6", linestyle=":", linewidth=1, zorder=1)
    boxed = dict(boxstyle="square,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8)
    ax.annotate(f"compute: {peak_gflops:,.1f} GFLOP/s", (x_hi, peak_gflops), xytext=(-6, 6),
                textcoords="offset points", ha="right", va="bottom", fontsize=9, bbox=boxed,
                zorder=5)
    x_mem = x_lo * 1.25
    mem_label = ax.annotate(f"memory: {peak_gbps:,.1f} GB/s", (x_mem, x_mem * peak_gbps),
                            xytext=(0, 6), textcoords="offset points", rotation_mode="anchor",
                            ha="left", va="bottom", fontsize=9, bbox=boxed, zorder=5)

    kernels = list(pd.unique(pts["kernel"].astype(str)))
    impls = list(pd.unique(pts["implementation"].astype(str)))
    kcolor = {k: f"C{i % 10}" for i, k in enumerate(kernels)}
    imarker = {m: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(impls)}
    for (kernel, impl), grp in pts.groupby([pts["kernel"].astype(str),
                                            pts["implementation"].astype(str)], sort=False):
        ax.scatter(grp["intensity"], grp["gflops"], marker=imarker[impl], s=42,
                   facecolor=kcolor[kernel], edgecolor="black", linewidth=0.5, alpha=0.9,
                   zorder=3)
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("GFLOP/s (at median latency)")
    caption = _caption(results)
    ax.set_title("Roofline" + (f"\n{caption}" if caption else ""), fontsize=11)
    ax.grid(which="major", color="0.88")
    impl_handles = [Line2D([], [], linestyle="", marker=imarker[m], markerfacecolor="white",
                           markeredgecolor="black", markersize=7, label=m) for m in impls]
    kernel_handles = [Patch(facecolor=kcolor[k], edgecolor="black", linewidth=0.5, label=k)
                      for k in kernels]
    fig.legend(handles=impl_handles, title="implementation", loc="outside right upper",
               fontsize=8, title_fontsize=8, frameon=False)
    fig.legend(handles=kernel_handles, title="kernel", loc="outside right lower",
               fontsize=8, title_fontsize=8, frameon=False)
    _align_with_line(fig, ax, mem_label, (x_mem, x_mem * peak_gbps),
                     (2 * x_mem, 2 * x_mem * peak_gbps))
    return _save(fig, path)
