"""Fuzz driver: damage copies of a log's and a package's files, then use them.

Run as ``python fuzz_files.py LOG_ROOT PACKAGE WORK SEED CASES``: LOG_ROOT holds one
workload's log for the host CPU, PACKAGE that workload's exported package. Each case copies
them under WORK, applies one seeded damage (a truncation, flipped bytes, blank lines, a
repeated or deleted line, a JSON value of another type, an empty or deleted file, bytes
that are not UTF-8) to one file, then runs ``logs list``, ``tune --trials 0`` and ``export``
through the CLI (every eighth case: those compile) or ``load_package`` and a call. Each must
end in success or in one line on stderr with exit status 2, and every record line the
damage left intact must still be counted. The driver prints ``case N ...`` before each case,
so a crash names the case it died in; it exits 1 on the first broken promise.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import warnings
from pathlib import Path

from click.testing import CliRunner

from autotune.cli import cli
from autotune.deploy import load_package
from autotune.errors import AutotuneError
from autotune.hardware.target import resolve_target
from autotune.logs.repair import RECORDS
from autotune.logs.store import LogStore, read_meta
from autotune.workload import Workload

MUTATIONS = ("truncate", "flip", "blank", "repeat", "drop", "retype", "empty", "delete",
             "not-utf8")
RETYPED = (None, "x", -1, 1e308, [], {}, [1, "a"], True)


def mutate(path: Path, kind: str, rng: random.Random) -> None:
    """Apply one damage of ``kind`` to ``path``."""
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[:rng.randrange(len(data) + 1)])
    elif kind == "flip":
        raw = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            if raw:
                raw[rng.randrange(len(raw))] ^= rng.randint(1, 255)
        path.write_bytes(bytes(raw))
    elif kind in ("blank", "repeat", "drop"):
        lines = data.split(b"\n")
        at = rng.randrange(len(lines))
        if kind == "blank":
            lines.insert(at, rng.choice([b"", b"  ", b"\t"]))
        elif kind == "repeat":
            lines.insert(at, lines[at])
        else:
            del lines[at]
        path.write_bytes(b"\n".join(lines))
    elif kind == "retype":
        path.write_bytes(_retyped(data, rng))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "delete":
        path.unlink()
    else:  # not-utf8
        at = rng.randrange(len(data) + 1)
        path.write_bytes(data[:at] + b"\xff\xfe\x80" + data[at:])


def _retyped(data: bytes, rng: random.Random) -> bytes:
    """One JSON value (of a whole file, or of one line of a JSON-lines file) replaced by a
    value of another type."""
    lines = data.split(b"\n")
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    if not candidates:
        return data
    i = rng.choice(candidates)
    try:
        doc = json.loads(lines[i])
    except ValueError:
        try:  # a whole multi-line JSON file
            doc, i, lines = json.loads(data), 0, [b""]
        except ValueError:
            return data
    lines[i] = json.dumps(_replace_somewhere(doc, rng)).encode()
    return b"\n".join(lines)


def _replace_somewhere(doc, rng: random.Random):
    if isinstance(doc, (list, dict)) and doc and rng.random() < 0.7:
        keys = list(doc.keys()) if isinstance(doc, dict) else list(range(len(doc)))
        key = rng.choice(keys)
        doc[key] = _replace_somewhere(doc[key], rng)
        return doc
    return rng.choice([v for v in RETYPED if type(v) is not type(doc)])


def _clean(result, what: str) -> None:
    """A CLI run ended in success or in one line on stderr with exit status 2."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{what}: {type(result.exception).__name__}: {result.exception}")
    if result.exit_code not in (0, 2):
        raise AssertionError(f"{what}: exit {result.exit_code}: {result.output}")
    if "Traceback" in result.output or (result.exit_code == 2 and len(
            [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]) != 1):
        raise AssertionError(f"{what}: not one line: {result.output}")


def _cli_args(wl: Workload) -> list[str]:
    return [wl.kernel, *(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
                         for k, v in wl.params.items())]


def main(log_root: str, package: str, work: str, seed: int, cases: int) -> int:
    target = resolve_target("cpu")
    (log_dir,) = [p for p in LogStore(log_root).entries(target)]
    wl, pristine_dir = log_dir.workload, log_dir.path
    pristine_lines = (pristine_dir / RECORDS).read_bytes().split(b"\n")
    log_files = sorted(p.name for p in pristine_dir.iterdir() if p.is_file())
    package_files = sorted(p.name for p in Path(package).iterdir() if p.is_file())
    rng = random.Random(seed)
    runner = CliRunner()
    warnings.simplefilter("ignore")  # damage warnings are the expected outcome
    for case in range(cases):
        root = Path(work) / f"case{case}"
        shutil.copytree(log_root, root / "logs")
        shutil.copytree(package, root / "pkg")
        on_package = case % 3 == 2
        name = rng.choice(package_files if on_package else log_files)
        kind = rng.choice(MUTATIONS)
        path = (root / "pkg" if on_package else LogStore(root / "logs").path(wl, target)) / name
        print(f"case {case} {'package' if on_package else 'log'} {name} {kind}", flush=True)
        mutate(path, kind, rng)
        if on_package:
            try:
                pkg = load_package(root / "pkg")
                kernel = pkg[wl.key]
                x = wl.make_inputs(0)
                if wl.check(kernel(*x), x) is not None:
                    raise AssertionError(f"case {case}: the loaded kernel computes wrong results")
            except AutotuneError:
                pass
        else:
            logs = str(root / "logs")
            _clean(runner.invoke(cli, ["logs", "list", "--log-dir", logs]), f"case {case} list")
            if case % 8 == 0:
                _clean(runner.invoke(cli, ["tune", *_cli_args(wl), "--trials", "0", "--log-dir",
                                           logs, "--quiet"]), f"case {case} tune")
                _clean(runner.invoke(cli, ["export", wl.key, "--log-dir", logs, "--out",
                                           str(root / "out")]), f"case {case} export")
            _check_records_kept(root / "logs", wl, target, name, path, pristine_lines, case)
        shutil.rmtree(root)
    print("done", flush=True)
    return 0


def _check_records_kept(log_root: Path, wl, target, name: str, path: Path,
                        pristine_lines: list[bytes], case: int) -> None:
    """Every record line the damage left as it was is still counted (a damaged meta.json
    makes the log unreadable as a whole: one error, nothing counted, nothing deleted)."""
    if name == "meta.json":
        try:
            read_meta(path)
            LogStore(log_root).open(wl, target)
        except AutotuneError:
            return
    if name == RECORDS:
        now = path.read_bytes().split(b"\n") if path.exists() else []
        remaining = list(now)
        intact = 0
        for line in pristine_lines:
            if line.strip() and line in remaining:
                remaining.remove(line)
                intact += 1
    else:
        intact = len([ln for ln in pristine_lines if ln.strip()])
    counted = len(LogStore(log_root).open(wl, target).database().get_all_tuning_records())
    if counted < intact:
        raise AssertionError(f"case {case}: {counted} records counted, {intact} left intact")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
