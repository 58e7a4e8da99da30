"""Wall-clock budgets: ``8h``, ``45m``, ``1h30m``, ``90s`` (kept by scheduler.GradientScheduler)."""

from __future__ import annotations

import math
import re

from autotune.errors import AutotuneError

_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``text`` (``8h``, ``45m``, ``1h30m``, ``90s``, or a plain number of seconds)."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        spec = text.strip().lower().replace(" ", "")
        try:
            seconds = float(spec)
        except ValueError:
            parts = _PART.findall(spec)
            if not parts or "".join(n + u for n, u in parts) != spec:
                raise AutotuneError(
                    f"time budget {text!r} is not a duration: write e.g. 8h, 45m, 1h30m or 90s"
                ) from None
            seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise AutotuneError(f"time budget must be a positive, finite duration, got {text!r}")
    return seconds
