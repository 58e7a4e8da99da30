"""Measure on remote devices through a TVM RPC tracker.

``Remote`` names the devices (a tracker's address and a key). Candidates are built here for
the remote target and measured there by MetaSchedule's ``RPCRunner`` (``runner``); the
chosen kernel is checked against NumPy and timed on a remote device too (``device``).
"""

from autotune.errors import RemoteError
from autotune.remote.tracker import Remote

__all__ = ["Remote", "RemoteError"]
