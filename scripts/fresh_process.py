"""One arm of a benchmark in a fresh Python process: both arms pay the same start-up.

A script adds the hidden ``--one ARM KEY DIR SEED`` option (``add_one_option``), answers it
with ``serve_one`` (one JSON row on stdout), and runs each arm with ``run_fresh``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def add_one_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--one", nargs=4, metavar=("ARM", "KEY", "DIR", "SEED"),
                        help=argparse.SUPPRESS)


def serve_one(args: argparse.Namespace, run_one: Callable[..., dict]) -> bool:
    """If this process was started for one arm, run it, print its row and say so."""
    if not args.one:
        return False
    arm, key, folder, seed = args.one
    print(json.dumps(run_one(arm, key, args.trials, Path(folder), int(seed))))
    return True


def run_fresh(script: str, trials: int, arm: str, key: str, folder: Path | str, seed: int) -> dict:
    """Run ``script --one`` for one arm in a new interpreter; its row, or exit with its error."""
    proc = subprocess.run(
        [sys.executable, script, "--trials", str(trials), "--one", arm, key, str(folder),
         str(seed)], capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"{arm} on {key} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
