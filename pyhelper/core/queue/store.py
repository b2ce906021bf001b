"""The SQLite plumbing under the queue database: connections, transactions, and errors as one line.

Every SQLite error becomes a `QueueError` naming the file and the fix, so a damaged or locked
database never shows a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pyhelper.errors import XpError


class QueueError(XpError):
    """The queue database cannot be used."""


class Connection:
    """A SQLite connection whose errors become one-line `QueueError`s naming the file and the fix."""

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = path
        if read_only:  # A folder xp may not write: the file as it is (`immutable`: no -shm/-wal made), or none.
            target = f"{path.as_uri()}?mode=ro&immutable=1" if path.exists() else "file::memory:"
            self.raw = guard(path, lambda: sqlite3.connect(target, timeout=30, isolation_level=None, uri=True))
        else:
            from pyhelper.core.storage.disk import require_room

            require_room(path)  # A WAL database on a full disk ends in SIGBUS, not an error.
            self.raw = guard(path, lambda: sqlite3.connect(path, timeout=30, isolation_level=None))

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        """Runs one statement."""
        return guard(self.path, lambda: self.raw.execute(sql, args))

    def close(self) -> None:
        """Closes the connection."""
        self.raw.close()


class Transaction:
    """`with Transaction(connection):` — one write transaction (BEGIN IMMEDIATE), rolled back on error."""

    def __init__(self, db: Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            # The transaction may be gone already (the error that got us here ended it).
            with contextlib.suppress(sqlite3.Error):
                self.db.raw.execute("ROLLBACK")


_T = TypeVar("_T")


def guard(path: Path, call: Callable[[], _T]) -> _T:
    """Runs one SQLite call, turning its errors into a `QueueError` that names the file and the fix."""
    try:
        return call()
    except sqlite3.OperationalError as exc:
        if "readonly database" in str(exc):
            raise  # A read-only .xp/: the CLI says so in one line (the file itself is fine).
        if "locked" in str(exc) or "busy" in str(exc):
            raise QueueError(f"the queue database {path} stayed locked for 30 s ({exc})",
                             hint="another xp process holds it; try again when it is done") from None
        raise _full_or_unreadable(path, exc) from None
    except sqlite3.DatabaseError as exc:
        raise _full_or_unreadable(path, exc) from None


def _full_or_unreadable(path: Path, exc: Exception) -> Exception:
    """A full disk (SQLite's "database or disk is full", or its "disk I/O error" with no room left) is
    said as one, with its fix; anything else is a database that cannot be read."""
    import errno

    from pyhelper.core.storage.disk import full

    if "disk is full" in str(exc) or ("disk I/O error" in str(exc) and full(path)):
        return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (SQLite: {exc})", str(path))
    return unreadable(path, exc)


def identity(path: Path) -> tuple[int, int] | None:
    """The file's (device, inode): which file a path names now (None when there is none)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def unreadable(path: Path, exc: Exception) -> QueueError:
    """The error for a database file SQLite cannot use, on one line, with the fix."""
    detail = "; ".join(line.strip("* ") for line in str(exc).splitlines() if line.strip("* "))
    return QueueError(
        f"the queue database {path} cannot be read ({detail})",
        hint=f"move it away (mv '{path}' '{path}.broken'), then `xp queue recover` re-creates the entries "
             "from git (refs/xp/queue/)",
    )
