"""The queue database (`.xp/queue.db`, SQLite in WAL mode): entries, workers, and events.

(`store.py` holds the SQLite plumbing: connections, transactions, errors.)

An entry is claimed in one `BEGIN IMMEDIATE` transaction, so two workers never claim the same
one. The claim is a lease that the worker's heartbeat renews; an entry whose lease ran out
(its worker was killed) is re-queued when it asked for retries, else marked failed with
"worker lost". Only the current lease holder can finish an entry. Every status change is
appended to `events`, which others can follow by sequence number.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pyhelper.core.processes import hostname
from pyhelper.core.project import Project
from pyhelper.core.queue.store import Connection, QueueError, Transaction, identity, unreadable
from pyhelper.errors import BadInput

SCHEMA_VERSION = 2
LEASE_SECONDS = 6.0
"""How long a claim lasts without a heartbeat; a killed worker's entry is reaped after this."""
HEARTBEAT_SECONDS = 1.0

Status = Literal["queued", "running", "success", "failed", "cancelled"]
"""Where an entry is: waiting, being run, or finished one of three ways."""
STATUSES: tuple[Status, ...] = ("queued", "running", "success", "failed", "cancelled")
FINAL: tuple[Status, ...] = ("success", "failed", "cancelled")
Cancel = Literal[0, 1, 2]
"""An entry's cancel request: 0 none, 1 stop (SIGTERM, a grace, SIGKILL), 2 kill now (SIGKILL)."""


def status_of(text: str | None) -> Status:
    """A status read from a database or Redis: one of `STATUSES` (anything else reads as failed, so a
    damaged or forged value is never taken for a run that is still to come)."""
    return next((s for s in STATUSES if s == text), "failed")


def cancel_of(value: object) -> Cancel:
    """A cancel level read from a database or Redis (anything unknown: none)."""
    return 2 if value == 2 else 1 if value == 1 else 0


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
    status: Status
    created: float
    started: float | None
    finished: float | None
    worker: str | None
    attempts: int
    retries: int
    cancel: Cancel
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


@dataclass(frozen=True)
class Running:
    """A running entry and what tells whether its worker still lives."""

    entry: Entry
    lease_until: float | None
    pgid: int | None
    """The process group of its running command."""
    host: str | None
    """Its worker's host and pid (None when the worker's row is gone)."""
    pid: int | None


_ENTRY_COLUMNS = ("id, seq, name, baseline, rev, params, message, status, created, started, finished, worker, "
                  "attempts, retries, cancel, exit_code, error, exp_rev")


def _entry(row: tuple[Any, ...]) -> Entry:
    (id_, seq, name, baseline, rev, params, message, status, created, started, finished, worker,
     attempts, retries, cancel, exit_code, error, exp_rev) = row
    return Entry(id_, seq, name, baseline, rev, tuple(json.loads(params)), message or "", status_of(status), created,
                 started, finished, worker, attempts, retries, cancel_of(cancel), exit_code, error or "", exp_rev)


class QueueDb:
    """A connection to the queue database (created on first use)."""

    def __init__(self, project: Project):
        self.path = project.ensure_xp_dir() / "queue.db"
        if not os.access(self.path.parent, os.W_OK):
            # A read-only .xp/ (a read-only mount): the queue is read as it is; a write fails with SQLite's
            # "readonly database", which the CLI says in one line.
            self.db = Connection(self.path, read_only=True)
            if not self.path.exists():
                self._migrate()  # The empty schema, in memory, before writes are refused.
            self.db.execute("PRAGMA query_only=ON")
            self.identity = identity(self.path)
            return
        # Switching a new database to WAL needs every other connection out of the way, and SQLite
        # answers "locked" at once (no busy wait) when two connections try it together, so
        # connections are set up one at a time (an flock, which also orders threads of one process).
        with open(self.path.with_name("queue.db.setup-lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.db = Connection(self.path)
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
                # A damaged page would otherwise fail only the commands that happen to read it (ms on a queue's size).
                problem = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
                if problem != "ok":
                    raise unreadable(self.path, sqlite3.DatabaseError(problem))
                # Which file this connection has open: a worker notices when the file was deleted or replaced.
                self.identity = identity(self.path)
            except BaseException:
                self.db.close()
                raise

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
                " cancel INTEGER DEFAULT 0, exit_code INTEGER, error TEXT, exp_rev TEXT, pgid INTEGER)")
            if version == 1:  # Schema 1 had no pgid (the running command's process group).
                self.db.execute("ALTER TABLE entries ADD COLUMN pgid INTEGER")
            self.db.execute("CREATE INDEX IF NOT EXISTS entries_status ON entries(status, seq)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL,"
                " heartbeat REAL, entry TEXT, stopping INTEGER DEFAULT 0)")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL,"
                " entry TEXT, status TEXT, detail TEXT)")
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def transaction(self) -> Transaction:
        """`with db.transaction():` — one write transaction (BEGIN IMMEDIATE)."""
        return Transaction(self.db)

    def close(self) -> None:
        """Closes the connection."""
        self.db.close()

    def replaced(self) -> bool:
        """True when the file this connection uses was deleted or replaced (so nobody else sees it)."""
        return identity(self.path) != self.identity

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

    def restore(self, items: list[dict[str, Any]]) -> list[Entry]:
        """Re-adds entries rebuilt from git (`recover`): as `add`, plus their created time, status and
        experiment; ids already present are left as they are."""
        with self.transaction():
            seq = (self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0]) + 1
            for offset, item in enumerate(items):
                finished = item["created"] if item["status"] in FINAL else None
                self.db.execute(
                    "INSERT OR IGNORE INTO entries (id, seq, name, baseline, rev, params, message, status, created,"
                    " finished, retries, exp_rev) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (item["id"], seq + offset, item["name"], item["baseline"], item["rev"],
                     json.dumps(list(item["params"])), item["message"], item["status"], item["created"], finished,
                     item["retries"], item.get("exp_rev")))
                self._event(item["id"], item["status"], "recovered from git")
        return [self.get(item["id"]) for item in items]

    def entries(self, statuses: tuple[Status, ...] = STATUSES) -> list[Entry]:
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
        """Takes the oldest queued entry for `worker` (a lease); None when there is none or it must stop."""
        now = time.time()
        with self.transaction():
            # Checked in the same transaction as `stop_workers` writes, so a stop is never missed.
            stopping = self.db.execute("SELECT stopping FROM workers WHERE id=?", (worker,)).fetchone()
            if stopping is None or stopping[0]:
                return None
            row = self.db.execute("SELECT id FROM entries WHERE status='queued' ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            self.db.execute(
                "UPDATE entries SET status='running', worker=?, started=?, finished=NULL, lease_until=?,"
                " attempts=attempts+1, exit_code=NULL, error='', pgid=NULL WHERE id=? AND status='queued'",
                (worker, now, now + LEASE_SECONDS, row[0]))
            self.db.execute("UPDATE workers SET entry=? WHERE id=?", (row[0], worker))
            self._event(row[0], "running", worker)
        return self.get(row[0])

    def stopping(self, worker: str) -> bool:
        """True when `worker` was asked to stop (or was reaped as dead)."""
        row = self.db.execute("SELECT stopping FROM workers WHERE id=?", (worker,)).fetchone()
        return row is None or bool(row[0])

    def set_pgid(self, entry_id: str, worker: str, pgid: int | None) -> None:
        """Notes the process group of the entry's running command (to stop it if its worker dies)."""
        with self.transaction():
            self.db.execute("UPDATE entries SET pgid=? WHERE id=? AND worker=? AND status='running'",
                            (pgid, entry_id, worker))

    def finish(self, entry_id: str, worker: str, status: Status, *, exit_code: int | None = None,
               error: str = "", exp_rev: str | None = None, record: Callable[[], None] | None = None) -> bool:
        """Records the outcome; False (and nothing written) when `worker` no longer holds the entry.

        `record` (writing the experiment's ref) runs inside the transaction, after the lease was
        checked and while no other process can write: a reaper cannot take the entry between the
        check and the ref. A crash after the ref but before the commit leaves a recorded ref and a
        running entry, which `reap` then finds recorded (by its trailer) and marks success.
        """
        with self.transaction():
            changed = self.db.execute(
                "UPDATE entries SET status=?, finished=?, exit_code=?, error=?, exp_rev=?, lease_until=NULL, pgid=NULL"
                " WHERE id=? AND worker=? AND status='running'",
                (status, time.time(), exit_code, error, exp_rev, entry_id, worker)).rowcount
            if changed:
                if record is not None:
                    record()
                self.db.execute("UPDATE workers SET entry=NULL WHERE id=?", (worker,))
                self._event(entry_id, status, error)
        return bool(changed)

    def release(self, entry_id: str, worker: str, reason: str) -> str | None:
        """Gives up a running entry (its worker is stopping): re-queued if it has retries left, else failed."""
        with self.transaction():
            row = self.db.execute("SELECT attempts, retries, cancel FROM entries WHERE id=? AND worker=?"
                                  " AND status='running'", (entry_id, worker)).fetchone()
            if row is None:
                return None
            attempts, retries, cancel = row
            status = self._give_up(entry_id, attempts, retries, cancel, reason)
            self.db.execute("UPDATE workers SET entry=NULL WHERE id=?", (worker,))
        return status

    def _give_up(self, entry_id: str, attempts: int, retries: int, cancel: int, reason: str) -> str:
        if cancel:  # Somebody asked to kill it: it is not run again.
            self.db.execute("UPDATE entries SET status='cancelled', finished=?, error=?, lease_until=NULL, pgid=NULL"
                            " WHERE id=?", (time.time(), f"{reason} while being cancelled", entry_id))
            self._event(entry_id, "cancelled", reason)
            return "cancelled"
        if attempts <= retries:
            self.db.execute("UPDATE entries SET status='queued', worker=NULL, started=NULL, lease_until=NULL,"
                            " pgid=NULL WHERE id=?", (entry_id,))
            self._event(entry_id, "queued", f"{reason}; retrying")
            return "queued"
        self.db.execute("UPDATE entries SET status='failed', finished=?, error=?, lease_until=NULL, pgid=NULL"
                        " WHERE id=?", (time.time(), reason, entry_id))
        self._event(entry_id, "failed", reason)
        return "failed"

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

    def remove(self, entry_ids: list[str]) -> list[str]:
        """Deletes entries that are not running; returns the ids deleted."""
        removed = []
        with self.transaction():
            for entry_id in entry_ids:
                if self.db.execute("DELETE FROM entries WHERE id=? AND status != 'running'", (entry_id,)).rowcount:
                    self._event(entry_id, "removed")
                    removed.append(entry_id)
        return removed

    def retry(self, entry_ids: list[str]) -> None:
        """Puts finished entries back in the queue (at its end), with their retries available again."""
        with self.transaction():
            seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0]
            for offset, entry_id in enumerate(entry_ids, 1):
                changed = self.db.execute(
                    "UPDATE entries SET status='queued', seq=?, worker=NULL, started=NULL, finished=NULL,"
                    " attempts=0, cancel=0, exit_code=NULL, error='', exp_rev=NULL, pgid=NULL WHERE id=? AND status IN"
                    " ('failed', 'cancelled', 'success')", (seq + offset, entry_id)).rowcount
                if changed:
                    self._event(entry_id, "queued", "retry")

    # -- workers -----------------------------------------------------------------------------
    def register(self) -> str:
        """Adds this process as a worker; returns its id."""
        worker = os.urandom(5).hex()
        now = time.time()
        with self.transaction():
            self.db.execute("INSERT INTO workers (id, pid, host, started, heartbeat) VALUES (?,?,?,?,?)",
                            (worker, os.getpid(), hostname(), now, now))
        return worker

    def unregister(self, worker: str) -> None:
        """Removes a worker that is exiting."""
        with self.transaction():
            self.db.execute("DELETE FROM workers WHERE id=?", (worker,))

    def heartbeat(self, worker: str) -> dict[str, int]:
        """Renews the worker's lease; returns the cancel flag of each entry it runs (by id)."""
        now = time.time()
        with self.transaction():
            self.db.execute("UPDATE workers SET heartbeat=? WHERE id=?", (now, worker))
            self.db.execute("UPDATE entries SET lease_until=? WHERE worker=? AND status='running'",
                            (now + LEASE_SECONDS, worker))
        return dict(self.db.execute("SELECT id, cancel FROM entries WHERE worker=? AND status='running'",
                                    (worker,)).fetchall())

    def workers(self) -> list[Worker]:
        """Workers whose heartbeat is recent."""
        cutoff = time.time() - LEASE_SECONDS
        rows = self.db.execute("SELECT id, pid, host, started, heartbeat, entry, stopping FROM workers"
                               " WHERE heartbeat >= ? ORDER BY started", (cutoff,)).fetchall()
        return [Worker(*r) for r in rows]

    def stop_workers(self, *, kill: bool, pids: list[int] | None = None) -> int:
        """Asks every worker (or those of this host with these pids) to exit after its current entry
        (`kill`: stop that entry too; only with every worker)."""
        if pids is not None:
            marks = ",".join("?" * len(pids))
            with self.transaction():
                return self.db.execute(f"UPDATE workers SET stopping=1 WHERE host=? AND pid IN ({marks})",
                                       (hostname(), *pids)).rowcount
        with self.transaction():
            self.db.execute("UPDATE workers SET stopping=1")
            count = int(self.db.execute("SELECT COUNT(*) FROM workers WHERE heartbeat >= ?",
                                        (time.time() - LEASE_SECONDS,)).fetchone()[0])
            if kill:
                self.db.execute("UPDATE entries SET cancel=2 WHERE status='running'")
        return count

    def orphaned_retries(self) -> int:
        """Running entries with retries left whose worker stopped heartbeating (they will be re-queued)."""
        stale = time.time() - 3 * HEARTBEAT_SECONDS
        return int(self.db.execute(
            "SELECT COUNT(*) FROM entries e LEFT JOIN workers w ON w.id = e.worker WHERE e.status='running'"
            " AND e.attempts <= e.retries AND e.cancel = 0 AND (w.heartbeat IS NULL OR w.heartbeat < ?)",
            (stale,)).fetchone()[0])

    def running(self) -> list[Running]:
        """Every running entry, with what it takes to tell whether its worker is still alive."""
        rows = self.db.execute(
            f"SELECT {', '.join('e.' + c for c in _ENTRY_COLUMNS.split(', '))}, e.lease_until, e.pgid, w.host, w.pid"
            " FROM entries e LEFT JOIN workers w ON w.id = e.worker WHERE e.status='running' ORDER BY e.seq").fetchall()
        return [Running(_entry(r[:-4]), *r[-4:]) for r in rows]

    def reap(self, lost: dict[str, tuple[str | None, bool]], recorded: dict[str, str] | None = None) -> list[str]:
        """Entries whose worker is lost: re-queued (retries left) or failed "worker lost".

        `lost` maps entry ids to (the worker that held it, whether that worker is known dead — its
        process is gone — rather than just late). An entry only late is reaped when its lease ran out,
        checked again here (a heartbeat may have come meanwhile); an entry that changed hands is left.
        `recorded` maps entry ids to experiment commits found in git for them: such an entry was
        fully recorded before its worker died, so it is marked success instead.
        """
        now = time.time()
        reaped = []
        with self.transaction():
            for entry_id, (worker, dead) in lost.items():
                row = self.db.execute(
                    "SELECT attempts, retries, cancel FROM entries WHERE id=? AND worker IS ? AND status='running'"
                    " AND (? OR lease_until < ?)", (entry_id, worker, dead, now)).fetchone()
                if row is None:
                    continue
                if recorded and entry_id in recorded:
                    self.db.execute("UPDATE entries SET status='success', finished=?, exp_rev=?, lease_until=NULL,"
                                    " pgid=NULL WHERE id=?", (now, recorded[entry_id], entry_id))
                    self._event(entry_id, "success", "recorded before its worker was lost")
                else:
                    attempts, retries, cancel = row
                    self._give_up(entry_id, attempts, retries, cancel, "worker lost")
                if dead:
                    self.db.execute("DELETE FROM workers WHERE id=?", (worker,))
                reaped.append(entry_id)
            self.db.execute("DELETE FROM workers WHERE heartbeat < ?", (now - 10 * LEASE_SECONDS,))
        return reaped

    def events_since(self, seq: int) -> list[tuple[int, float, str, str, str]]:
        """Status changes after sequence number `seq` (for followers such as the editor)."""
        return self.db.execute("SELECT seq, time, entry, status, detail FROM events WHERE seq > ? ORDER BY seq",
                               (seq,)).fetchall()
