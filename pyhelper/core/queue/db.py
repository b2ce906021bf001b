"""The queue database (`.xp/queue.db`, SQLite in WAL mode): entries, workers, and events.

An entry is claimed in one `BEGIN IMMEDIATE` transaction, so two workers never claim the same
one. The claim is a lease that the worker's heartbeat renews; an entry whose lease ran out
(its worker was killed) is re-queued when it asked for retries, else marked failed with
"worker lost". Only the current lease holder can finish an entry. Every status change is
appended to `events`, which others can follow by sequence number.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhelper.core.project import Project
from pyhelper.errors import BadInput, XpError

SCHEMA_VERSION = 1
LEASE_SECONDS = 6.0
"""How long a claim lasts without a heartbeat; a killed worker's entry is reaped after this."""
HEARTBEAT_SECONDS = 1.0

STATUSES = ("queued", "running", "success", "failed", "cancelled")
FINAL = ("success", "failed", "cancelled")


class QueueError(XpError):
    """The queue database cannot be used."""


@dataclass(frozen=True)
class Entry:
    """One queued (or run) experiment."""

    id: str
    seq: int
    name: str
    baseline: str
    rev: str
    """The commit holding the workspace as queued (with the entry's params)."""
    params: tuple[str, ...]
    """The `-S` assignments of this entry."""
    message: str
    status: str
    created: float
    started: float | None
    finished: float | None
    worker: str | None
    attempts: int
    retries: int
    cancel: int
    """0 none, 1 stop gracefully, 2 kill now."""
    exit_code: int | None
    error: str
    exp_rev: str | None

    @property
    def duration(self) -> float | None:
        """Seconds it ran (so far, while running)."""
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


@dataclass(frozen=True)
class Worker:
    """A live worker process."""

    id: str
    pid: int
    host: str
    started: float
    heartbeat: float
    entry: str | None
    stopping: int


_ENTRY_COLUMNS = ("id, seq, name, baseline, rev, params, message, status, created, started, finished, worker, "
                  "attempts, retries, cancel, exit_code, error, exp_rev")


def _entry(row: tuple[Any, ...]) -> Entry:
    (id_, seq, name, baseline, rev, params, message, status, created, started, finished, worker,
     attempts, retries, cancel, exit_code, error, exp_rev) = row
    return Entry(id_, seq, name, baseline, rev, tuple(json.loads(params)), message or "", status, created, started,
                 finished, worker, attempts, retries, cancel, exit_code, error or "", exp_rev)


class QueueDb:
    """A connection to the queue database (created on first use)."""

    def __init__(self, project: Project):
        self.path = project.ensure_xp_dir() / "queue.db"
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, exc) from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise QueueError(f"{self.path} was written by a newer xp (schema {version})",
                             hint="upgrade xp, or move the file away to start an empty queue")
        with self.transaction():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, seq INTEGER, name TEXT, baseline TEXT,"
                " rev TEXT, params TEXT, message TEXT, status TEXT, created REAL, started REAL, finished REAL,"
                " worker TEXT, lease_until REAL, attempts INTEGER DEFAULT 0, retries INTEGER DEFAULT 0,"
                " cancel INTEGER DEFAULT 0, exit_code INTEGER, error TEXT, exp_rev TEXT)")
            self.db.execute("CREATE INDEX IF NOT EXISTS entries_status ON entries(status, seq)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL,"
                " heartbeat REAL, entry TEXT, stopping INTEGER DEFAULT 0)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL,"
                " entry TEXT, status TEXT, detail TEXT)")
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def transaction(self) -> _Transaction:
        """`with db.transaction():` — one write transaction (BEGIN IMMEDIATE)."""
        return _Transaction(self.db, self.path)

    def close(self) -> None:
        """Closes the connection."""
        self.db.close()

    def _event(self, entry: str, status: str, detail: str = "") -> None:
        self.db.execute("INSERT INTO events(time, entry, status, detail) VALUES (?,?,?,?)",
                        (time.time(), entry, status, detail))

    # -- entries ------------------------------------------------------------------------------
    def add(self, items: list[dict[str, Any]]) -> list[Entry]:
        """Adds entries (dicts with name, baseline, rev, params, message, retries[, id]) in order."""
        now = time.time()
        with self.transaction():
            seq = (self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0]) + 1
            for offset, item in enumerate(items):
                self.db.execute(
                    "INSERT INTO entries (id, seq, name, baseline, rev, params, message, status, created, retries)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (item["id"], seq + offset, item["name"], item["baseline"], item["rev"],
                     json.dumps(list(item["params"])), item.get("message", ""), "queued", now, item.get("retries", 0)))
                self._event(item["id"], "queued")
        return [self.get(item["id"]) for item in items]

    def entries(self, statuses: tuple[str, ...] = STATUSES) -> list[Entry]:
        """Entries with these statuses, in queue order."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE status IN ({marks}) ORDER BY seq",
                               statuses).fetchall()
        return [_entry(r) for r in rows]

    def get(self, entry_id: str) -> Entry:
        """One entry by id."""
        row = self.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id=?", (entry_id,)).fetchone()
        if row is None:
            raise BadInput(f"no queue entry has the id '{entry_id}'", hint="see `xp queue status`")
        return _entry(row)

    def find(self, spec: str) -> Entry:
        """The entry named `spec` (the newest of that name), or whose id starts with it."""
        rows = self.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE name=? ORDER BY seq DESC",
                               (spec,)).fetchall()
        if not rows and len(spec) >= 4:
            rows = self.db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE id LIKE ?", (spec + "%",)).fetchall()
        if not rows:
            from pyhelper.errors import did_you_mean

            names = [r[0] for r in self.db.execute("SELECT DISTINCT name FROM entries")]
            raise BadInput(f"no queue entry named '{spec}'",
                           hint=did_you_mean(spec, names) or "see `xp queue status`")
        return _entry(rows[0])

    def names(self) -> set[str]:
        """Names of entries that are not finished (a new experiment may not take them)."""
        return {r[0] for r in self.db.execute("SELECT name FROM entries WHERE status IN ('queued', 'running')")}

    def claim(self, worker: str) -> Entry | None:
        """Takes the oldest queued entry for `worker` (a lease), or None when there is none."""
        now = time.time()
        with self.transaction():
            row = self.db.execute("SELECT id FROM entries WHERE status='queued' ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            self.db.execute(
                "UPDATE entries SET status='running', worker=?, started=?, finished=NULL, lease_until=?,"
                " attempts=attempts+1, exit_code=NULL, error='' WHERE id=? AND status='queued'",
                (worker, now, now + LEASE_SECONDS, row[0]))
            self.db.execute("UPDATE workers SET entry=? WHERE id=?", (row[0], worker))
            self._event(row[0], "running", worker)
        return self.get(row[0])

    def finish(self, entry_id: str, worker: str, status: str, *, exit_code: int | None = None,
               error: str = "", exp_rev: str | None = None) -> bool:
        """Records the outcome; False (and nothing written) when `worker` no longer holds the entry."""
        with self.transaction():
            changed = self.db.execute(
                "UPDATE entries SET status=?, finished=?, exit_code=?, error=?, exp_rev=?, lease_until=NULL"
                " WHERE id=? AND worker=? AND status='running'",
                (status, time.time(), exit_code, error, exp_rev, entry_id, worker)).rowcount
            if changed:
                self.db.execute("UPDATE workers SET entry=NULL WHERE id=?", (worker,))
                self._event(entry_id, status, error)
        return bool(changed)

    def holds(self, entry_id: str, worker: str) -> bool:
        """True while `worker` holds the lease on the entry."""
        row = self.db.execute("SELECT 1 FROM entries WHERE id=? AND worker=? AND status='running'",
                              (entry_id, worker)).fetchone()
        return row is not None

    def request_cancel(self, entry_ids: list[str], *, force: bool) -> list[str]:
        """Cancels queued entries now, and asks the workers of running ones to stop them."""
        done = []
        with self.transaction():
            for entry_id in entry_ids:
                row = self.db.execute("SELECT status FROM entries WHERE id=?", (entry_id,)).fetchone()
                if row and row[0] == "queued":
                    self.db.execute("UPDATE entries SET status='cancelled', finished=? WHERE id=?",
                                    (time.time(), entry_id))
                    self._event(entry_id, "cancelled", "cancelled while queued")
                    done.append(entry_id)
                elif row and row[0] == "running":
                    self.db.execute("UPDATE entries SET cancel=? WHERE id=?", (2 if force else 1, entry_id))
                    done.append(entry_id)
        return done

    def remove(self, entry_ids: list[str]) -> None:
        """Deletes entries that are not running."""
        with self.transaction():
            for entry_id in entry_ids:
                self.db.execute("DELETE FROM entries WHERE id=? AND status != 'running'", (entry_id,))
                self._event(entry_id, "removed")

    def retry(self, entry_ids: list[str]) -> None:
        """Puts finished entries back in the queue (at its end)."""
        with self.transaction():
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0]
            for offset, entry_id in enumerate(entry_ids, 1):
                self.db.execute(
                    "UPDATE entries SET status='queued', seq=?, worker=NULL, started=NULL, finished=NULL,"
                    " cancel=0, exit_code=NULL, error='', exp_rev=NULL WHERE id=? AND status IN"
                    " ('failed', 'cancelled', 'success')", (seq + offset, entry_id))
                self._event(entry_id, "queued", "retry")

    # -- workers -----------------------------------------------------------------------------
    def register(self) -> str:
        """Adds this process as a worker; returns its id."""
        worker = uuid.uuid4().hex[:10]
        now = time.time()
        with self.transaction():
            self.db.execute("INSERT INTO workers (id, pid, host, started, heartbeat) VALUES (?,?,?,?,?)",
                            (worker, os.getpid(), socket.gethostname(), now, now))
        return worker

    def unregister(self, worker: str) -> None:
        """Removes a worker that is exiting."""
        with self.transaction():
            self.db.execute("DELETE FROM workers WHERE id=?", (worker,))

    def heartbeat(self, worker: str) -> tuple[int, int]:
        """Renews the worker's lease; returns (cancel flag of its entry, stopping flag of the worker)."""
        now = time.time()
        with self.transaction():
            self.db.execute("UPDATE workers SET heartbeat=? WHERE id=?", (now, worker))
            self.db.execute("UPDATE entries SET lease_until=? WHERE worker=? AND status='running'",
                            (now + LEASE_SECONDS, worker))
        row = self.db.execute(
            "SELECT COALESCE((SELECT cancel FROM entries WHERE worker=? AND status='running'), 0),"
            " COALESCE((SELECT stopping FROM workers WHERE id=?), 1)", (worker, worker)).fetchone()
        return row[0], row[1]

    def workers(self) -> list[Worker]:
        """Workers whose heartbeat is recent."""
        cutoff = time.time() - LEASE_SECONDS
        rows = self.db.execute("SELECT id, pid, host, started, heartbeat, entry, stopping FROM workers"
                               " WHERE heartbeat >= ? ORDER BY started", (cutoff,)).fetchall()
        return [Worker(*r) for r in rows]

    def stop_workers(self, *, kill: bool) -> int:
        """Asks every worker to exit after its current entry (`kill`: stop that entry too)."""
        with self.transaction():
            count = self.db.execute("UPDATE workers SET stopping=1").rowcount
            if kill:
                self.db.execute("UPDATE entries SET cancel=2 WHERE status='running'")
        return count

    def reap(self, recorded: dict[str, str] | None = None) -> list[str]:
        """Entries whose worker stopped heartbeating: re-queued (retries left) or failed "worker lost".

        `recorded` maps entry ids to experiment commits found in git for them: such an entry was
        fully recorded before its worker died, so it is marked success instead.
        """
        now = time.time()
        reaped = []
        with self.transaction():
            rows = self.db.execute("SELECT id, attempts, retries FROM entries WHERE status='running'"
                                   " AND lease_until < ?", (now,)).fetchall()
            for entry_id, attempts, retries in rows:
                if recorded and entry_id in recorded:
                    self.db.execute("UPDATE entries SET status='success', finished=?, exp_rev=? WHERE id=?",
                                    (now, recorded[entry_id], entry_id))
                    self._event(entry_id, "success", "recorded before its worker was lost")
                elif attempts <= retries:
                    self.db.execute("UPDATE entries SET status='queued', worker=NULL, started=NULL WHERE id=?",
                                    (entry_id,))
                    self._event(entry_id, "queued", "worker lost; retrying")
                else:
                    self.db.execute("UPDATE entries SET status='failed', finished=?, error=? WHERE id=?",
                                    (now, "worker lost", entry_id))
                    self._event(entry_id, "failed", "worker lost")
                reaped.append(entry_id)
            self.db.execute("DELETE FROM workers WHERE heartbeat < ?", (now - 10 * LEASE_SECONDS,))
        return reaped

    def events_since(self, seq: int) -> list[tuple[int, float, str, str, str]]:
        """Status changes after sequence number `seq` (for followers such as the editor)."""
        return self.db.execute("SELECT seq, time, entry, status, detail FROM events WHERE seq > ? ORDER BY seq",
                               (seq,)).fetchall()


class _Transaction:
    def __init__(self, db: sqlite3.Connection, path: Path):
        self.db = db
        self.path = path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, exc) from None

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def _unreadable(path: Path, exc: Exception) -> QueueError:
    return QueueError(
        f"the queue database {path} cannot be read ({exc})",
        hint="move it away to start an empty queue; what was queued is still kept in git under "
             "refs/xp/queue/ (see `git for-each-ref refs/xp/queue`)",
    )
