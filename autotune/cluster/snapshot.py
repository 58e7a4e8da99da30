"""A workload's log folders as bytes: sent to a worker to continue from, sent back as they
grow, and merged into the driver's logs by ``autotune logs merge``'s rules (records of
one target never mixed with another's; a record already present is not repeated)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from autotune.atomic import write_text
from autotune.logs.events import EVENTS
from autotune.logs.store import VERDICTS, WINNER, LogStore
from autotune.logs.tools import merge
from autotune.workload import Workload

Snapshot = dict[str, bytes]  # "<target key>/<workload key>/<file>" -> its bytes


def log_folders(workload: Workload, tuned: list[Workload]) -> list[Workload]:
    """The workloads whose log folders travel for ``workload`` tuned as ``tuned`` (its
    variants): those, and its own, which holds the winner file."""
    return list(dict.fromkeys([workload, *tuned]))


def take(log_dir: Path, workloads: list[Workload]) -> Snapshot:
    """The files of ``workloads``' log folders under ``log_dir``, on every target."""
    keys = {wl.key for wl in workloads}
    return {str(file.relative_to(log_dir)): file.read_bytes()
            for file in sorted(Path(log_dir).glob("*/*/*"))
            if file.is_file() and file.parent.name in keys and not file.name.startswith(".")}


def unpack(snapshot: Snapshot, into: Path) -> None:
    """Write ``snapshot``'s files under ``into`` (a fresh folder)."""
    for name, data in snapshot.items():
        path = Path(into) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def apply(snapshot: Snapshot, log_dir: Path) -> list[str]:
    """Merge a worker's ``snapshot`` into the logs under ``log_dir``: its new records (and
    their verdicts), and its events file where it has more trials than ours (a worker's
    log starts from a copy of ours), and its layout-variant winners (chosen from ours and
    its own timings). Returns the ``<target key>/<workload key>`` merged."""
    with tempfile.TemporaryDirectory(prefix="autotune-snapshot-") as scratch:
        unpack(snapshot, Path(scratch))
        merged = [name for _, name, _ in merge([scratch], log_dir)]
        store = LogStore(log_dir)
        for theirs in LogStore(scratch).entries():
            ours = store.open(theirs.workload, theirs.target)
            if (theirs.path / VERDICTS).exists():
                ours.save_verdicts(theirs.verdicts(), keep_old=True)
            if _lines(theirs.path / EVENTS) > _lines(ours.path / EVENTS):
                write_text(ours.path / EVENTS,
                           (theirs.path / EVENTS).read_text(encoding="utf-8"))
    for name, data in snapshot.items():
        path = Path(log_dir) / name
        if path.name == WINNER:  # also in a folder with no records of its own
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, data.decode("utf-8"))
    return merged


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0
