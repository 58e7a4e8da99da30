"""The processes a search builds and measures candidates in, kept warm across searches.

Starting them is most of what a small search costs (each worker imports TVM: seconds), so
a caller that runs several searches one after another (``bench`` over a suite, a test
session) passes one ``Workers`` to all of them. Every worker ends when ``close`` is called,
when the ``with`` block ends, or when this process ends, however it ends
(``builder.die_with_parent``).
"""

from __future__ import annotations

import os
from functools import partial

from tvm.s_tir import meta_schedule as ms

from autotune.measure.protocol import Protocol
from autotune.search.builder import WarmBuilder, die_with_parent


class Workers:
    """A warm builder and a local runner, started on first use."""

    def __init__(self) -> None:
        self._builder: WarmBuilder | None = None
        self._runner: ms.runner.LocalRunner | None = None

    @property
    def builder(self) -> WarmBuilder:
        if self._builder is None:
            self._builder = WarmBuilder()
        return self._builder

    @property
    def runner(self) -> ms.runner.LocalRunner:
        """MetaSchedule's local runner, measuring with the timing protocol's settings."""
        if self._runner is None:
            self._runner = ms.runner.LocalRunner(
                evaluator_config=Protocol().evaluator_config(),
                initializer=partial(die_with_parent, os.getpid()))
        return self._runner

    def close(self) -> None:
        """Stop every worker (new ones start on the next use)."""
        if self._builder is not None:
            self._builder.shutdown()
        if self._runner is not None:
            self._runner.pool.shutdown(wait=False)
            self._runner = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
