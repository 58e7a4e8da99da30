"""What GPU measurements need from CUDA: CuPy when it can run, and CUDA-event timing.

Every GPU number is computed in full float32, like the TVM kernels it is compared with:
``NVIDIA_TF32_OVERRIDE=0`` is set before cuBLAS or cuDNN start, so neither rounds float32
inputs to TF32 on tensor cores (set it yourself to another value to override).
"""

from __future__ import annotations

import os
from functools import cache

from autotune.errors import first_line
from autotune.measure.protocol import Clock

os.environ.setdefault("NVIDIA_TF32_OVERRIDE", "0")


@cache
def cupy_reason() -> str | None:
    """None if CuPy can run kernels on a GPU here, else a one-line reason."""
    try:
        import cupy  # pylint: disable=import-outside-toplevel
    except ImportError:
        return "CuPy is not installed (pip install cupy-cuda13x)"
    except Exception as err:  # a CuPy built for another CUDA fails on import
        return f"CuPy cannot load: {type(err).__name__}: {first_line(err)}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # no driver, or no device visible
        return f"no CUDA GPU is usable: {first_line(err)}"
    return None if count else "no CUDA GPU is present"


def cupy():
    """The CuPy module; call only where ``cupy_reason()`` is None."""
    import cupy as module  # pylint: disable=import-outside-toplevel

    return module


class EventClock(Clock):
    """Seconds between two CUDA events on the default stream (where TVM and CuPy launch)."""

    def __init__(self) -> None:
        cp = cupy()
        self._start, self._stop = cp.cuda.Event(), cp.cuda.Event()

    def start(self) -> None:
        self._start.record()

    def stop(self) -> float:
        self._stop.record()
        self._stop.synchronize()
        return cupy().cuda.get_elapsed_time(self._start, self._stop) / 1e3

