"""Processes xp started or found: is one still alive."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True when a process with this id exists (another user's counts: it is not ours to judge)."""
    if pid <= 0:
        return False  # 0 and negatives name process groups to os.kill, not one process.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
