"""The results table of a benchmark: its columns beyond the timings, writing and reading it.

One row per workload x implementation; the timing columns come from
``measure.compare``, the rest (rates against the machine's ceilings, provenance) here.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tvm

from autotune.baselines import Baseline
from autotune.hardware.host import host_description
from autotune.hardware.isa import isa_peak
from autotune.hardware.peaks import Peaks
from autotune.hardware.target import target_json, target_key
from autotune.measure.compare import add_rates
from autotune.workload.suite import Suite


def write_tables(results: pd.DataFrame, curves: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """``name``.csv and ``name``-curves.csv under ``out``, and ``name``.parquet where
    pyarrow is installed (the ``parquet`` extra; a one-line note on stderr otherwise)."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{name}.csv", out / f"{name}-curves.csv"]
    results.to_csv(files[0], index=False)
    curves.to_csv(files[1], index=False)
    try:
        results.to_parquet(out / f"{name}.parquet", index=False)
    except ImportError:
        (out / f"{name}.parquet").unlink(missing_ok=True)  # never beside a newer CSV
        print(f"note: {name}.parquet skipped: pyarrow is not installed (pip install "
              "'autotune[parquet]'); the CSV holds the same table", file=sys.stderr)
    else:
        files.append(out / f"{name}.parquet")
    return files


def load_results(paths: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results tables (CSV or Parquet) written by ``bench``, with their curve files, joined."""
    tables, curves = [], []
    for path in map(Path, paths):
        reader = pd.read_parquet if path.suffix == ".parquet" else pd.read_csv
        table = reader(path)
        for column in ("error", "variant", "timed"):  # CSV gives NaN for the empty strings
            if column in table:
                table[column] = table[column].fillna("")
        tables.append(table)
        curve_file = path.with_name(f"{path.stem}-curves.csv")
        if curve_file.exists() and curve_file.stat().st_size > 1:
            curves.append(pd.read_csv(curve_file))
    return (pd.concat(tables, ignore_index=True),
            pd.concat(curves, ignore_index=True) if curves else pd.DataFrame())


def finish_table(frame: pd.DataFrame, suite: Suite, tgt, threads: int, peaks: Peaks | None,
            command: str | None, competing: list[Baseline]) -> pd.DataFrame:
    frame.insert(0, "suite", suite.name)
    add_rates(frame, [b.name for b in competing])
    if peaks:
        frame["roofline_gflops"] = [peaks.bound(x) for x in frame["intensity"]]
        frame["roofline_fraction"] = frame["gflops"] / frame["roofline_gflops"]
        frame["peak_fraction"] = frame["gflops"] / peaks.gflops
        frame["bandwidth_fraction"] = frame["gbps"] / peaks.gbps
    else:
        frame["roofline_gflops"] = frame["roofline_fraction"] = np.nan
        frame["peak_fraction"] = frame["bandwidth_fraction"] = np.nan
    isa = isa_peak(tgt)
    frame["isa_peak_gflops"] = isa.gflops if isa else np.nan
    frame["isa_peak_fraction"] = frame["gflops"] / isa.gflops if isa else np.nan
    frame["isa_peak_source"] = isa.describe() if isa else ""
    frame["tvm_version"] = tvm.__version__
    frame["target"] = target_key(tgt)
    frame["target_json"] = json.dumps(target_json(tgt), sort_keys=True)
    frame["host"] = host_description(tgt)
    frame["threads"] = threads
    frame["date"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    frame["peak_gflops"] = peaks.gflops if peaks else np.nan
    frame["peak_gbps"] = peaks.gbps if peaks else np.nan
    frame["peak_source"] = (f"{peaks.sgemm_n}^3 SGEMM via {peaks.sgemm_library}; STREAM "
                            f"copy/triad on {peaks.stream_bytes >> 20} MiB arrays") if peaks else ""
    frame["command"] = command or f"autotune.benchmark.run({suite.name!r}, target={target_key(tgt)!r})"
    return frame
