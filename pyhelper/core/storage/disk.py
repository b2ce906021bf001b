"""Room on the disk before SQLite's WAL databases are opened (`.xp/queue.db`, `.xp/runs.db`).

A WAL database keeps its index in a memory-mapped `-shm` file. Grown on a full file system, the
mapping has no block behind it and the kernel ends the process with SIGBUS ("Bus error") — no
exception, no message, whatever was being done cut off. Below `MIN_FREE` bytes free, xp says the
disk is full instead (as an ENOSPC OSError, which the CLI prints as one line with the fix).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

MIN_FREE = 256 * 1024
"""Bytes that must be free beside a WAL database: its -shm (32 KiB per step) and -wal pages, with margin."""


def free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged writer may still use on `folder`'s file system (None when it cannot be told)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def require_room(database: Path) -> None:
    """Raises ENOSPC naming `database` when its folder's file system is (nearly) full."""
    free = free_bytes(database.parent)
    if free is not None and free < MIN_FREE:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free // 1024} KiB free)", str(database))


def full(database: Path) -> bool:
    """True when `database`'s file system is (nearly) full: what SQLite's "disk I/O error" means then."""
    free = free_bytes(database.parent)
    return free is not None and free < MIN_FREE
