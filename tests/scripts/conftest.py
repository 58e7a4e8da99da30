"""The scripts under test run as a user runs them: ``python scripts/<name> ...``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def run_script() -> Callable[..., subprocess.CompletedProcess]:
    """``run_script(name, *args)``: the script's completed process, its output captured."""

    def run(name: str, *args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)],
                              capture_output=True, text=True, check=False)

    return run
