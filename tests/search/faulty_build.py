"""A build function for builder tests, imported by the builder's worker processes.

It builds ``add`` kernels normally, except: length 11 crashes the worker, length 12 hangs.
"""

from __future__ import annotations

import os
import time

from autotune.search.builder import build_candidate


def faulty_build(mod, target, params):
    text = mod.script()
    if "T.Buffer((11,)" in text:
        os._exit(139)  # as a compiler segfault would
    if "T.Buffer((12,)" in text:
        time.sleep(3600)
    return build_candidate(mod, target, params)
