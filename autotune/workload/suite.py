"""Benchmark suites: TOML files listing workloads, shipped in ``autotune/workload/suites/`` or given.

Format::

    name = "conv-unusual"      # optional; defaults to the file's stem
    trials = 300               # optional default budget per workload

    [[workload]]
    kernel = "conv2d"
    n = 1
    c = 37
    stride = [2, 2]            # any template parameter; pairs as arrays
    trials = 500               # optional, overrides the suite's
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from autotune.errors import AutotuneError, WorkloadError
from autotune.workload import Workload
from autotune.workload.template import INT32_MAX

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")

SUITE_DIR = Path(__file__).parent / "suites"


@dataclass(frozen=True)
class SuiteItem:
    workload: Workload
    trials: int | None  # None: the caller's default


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    items: list[SuiteItem]

    @property
    def workloads(self) -> list[Workload]:
        return [item.workload for item in self.items]


def shipped_suites() -> dict[str, Path]:
    """Suites that come with autotune, by name."""
    return {p.stem: p for p in sorted(SUITE_DIR.glob("*.toml"))}


def load_suite(spec: str | Path) -> Suite:
    """Load a suite by shipped name or path; every error is reported, each with its line."""
    path = Path(spec)
    if not path.is_file():
        shipped = shipped_suites()
        if str(spec) not in shipped:
            raise AutotuneError(
                f"no suite file {spec!r}; shipped suites: {', '.join(shipped) or 'none'}"
            )
        path = shipped[str(spec)]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise AutotuneError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AutotuneError(f"{path}: not valid TOML: {err}") from None
    lines = [i + 1 for i, ln in enumerate(text.splitlines()) if ln.strip() == "[[workload]]"]
    errors: list[str] = []
    default_trials = _trials(data.get("trials"), f"{path}: suite", errors)
    items = []
    entries = data.get("workload")
    if not isinstance(entries, list) or not entries:
        errors.append(f"{path}: no [[workload]] tables")
        entries = []
    for index, entry in enumerate(entries):
        where = f"{path}:{lines[index] if index < len(lines) else '?'}: workload {index + 1}"
        if not isinstance(entry, dict):
            errors.append(f"{where}: expected a [[workload]] table, got {entry!r}")
            continue
        params = dict(entry)
        kernel = params.pop("kernel", None)
        trials = _trials(params.pop("trials", None), where, errors)
        if not isinstance(kernel, str):
            errors.append(f"{where}: missing kernel = \"...\"")
            continue
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        try:
            items.append(SuiteItem(Workload(kernel, **params),
                                   default_trials if trials is None else trials))
        except WorkloadError as err:
            errors.append(f"{where}: {err}")
    keys = [item.workload.key for item in items]
    errors += [f"{path}: workload {k} is listed twice" for k in sorted({k for k in keys
                                                                        if keys.count(k) > 1})]
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        errors.append(f"{path}: name must be letters, digits, '.', '_' or '-' (it names the "
                      f"result files), not starting with '.', got {name!r}")
    if errors:
        raise AutotuneError(f"{len(errors)} error(s) in suite:\n" + "\n".join(errors))
    return Suite(name, path, items)


def _trials(value, where: str, errors: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        errors.append(f"{where}: trials must be an integer from 0 to {INT32_MAX}, got {value!r}")
        return None
    return value
