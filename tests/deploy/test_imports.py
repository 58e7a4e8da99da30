"""The deploy stage stands on its own: exporting and loading import nothing from the search."""

from __future__ import annotations

import json
import subprocess
import sys

IMPORTS = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules if m.startswith("autotune."))))
"""


def _autotune_modules(module: str) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", IMPORTS.format(module=module)],
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(proc.stdout)


def test_export_and_the_loader_import_no_search_code():
    loader = _autotune_modules("autotune.deploy")
    assert loader == ["autotune.deploy", "autotune.deploy.manifest", "autotune.deploy.package",
                      "autotune.errors", "autotune.hardware", "autotune.hardware.target",
                      "autotune.hardware.threads"]
    export = _autotune_modules("autotune.deploy.export")
    assert "autotune.deploy.export" in export and "autotune.measure.validate" in export
    assert not [m for m in export if m.startswith(("autotune.search", "autotune.benchmark"))]
