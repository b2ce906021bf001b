"""The run-cache: every successful stage run, keyed by what it ran with, and explorable.

A run's signature is the sha256 of its command, dependency hashes and params values. Each row
(SQLite, `.xp/runs.db`) also keeps the outputs' hashes, when it ran, how long it took and the
metrics it wrote, so `xp runs list` can show the history that DVC's run-cache hides.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhelper.core.storage.hashing import HashInfo
from pyhelper.errors import StateError, UnknownRun

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RecordedOut:
    """One output of a recorded run."""

    path: str
    """As written in dvc.yaml (relative to the stage's wdir)."""
    kind: str
    cache: bool
    hash: HashInfo


@dataclass(frozen=True)
class RunRecord:
    """One successful run of a stage."""

    id: str
    """A short, stable id (the first 12 hex digits of the record's hash)."""
    stage: str
    signature: str
    cmd: str | tuple[str, ...]
    wdir: str
    deps: dict[str, str]
    """Dependency path to md5."""
    params: dict[str, dict[str, Any]]
    outs: tuple[RecordedOut, ...]
    created: float
    """Unix time when the run finished."""
    duration: float
    """Seconds the command took."""
    metrics: dict[str, Any]
    """Flattened values of the metrics files the run wrote."""
    dep_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Dependency path to its `size` (and `nfiles`, `isexec`) as dvc.lock records them: what DVC's run-cache entry
    holds beside each md5 (records written before it have none, and their entries leave them out)."""


def signature(cmd: str | tuple[str, ...], deps: dict[str, str], params: dict[str, dict[str, Any]]) -> str:
    """The run-cache key of a stage run."""
    payload = {"cmd": list(cmd) if isinstance(cmd, tuple) else cmd, "deps": dict(sorted(deps.items())),
               "params": params}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


_COLUMNS = "id TEXT PRIMARY KEY, signature TEXT, stage TEXT, created REAL, duration REAL, body TEXT"


class RunCache:
    """The run-cache database; opened lazily, one connection per instance."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(self.db_path.parent, os.W_OK):
                self._db = self._read_only()
                return self._db
            from pyhelper.core.storage.disk import require_room

            require_room(self.db_path)  # A WAL database on a full disk ends in SIGBUS, not an error.
            db = sqlite3.connect(self.db_path, timeout=30)
            try:
                with self._guard():
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(f"CREATE TABLE IF NOT EXISTS runs ({_COLUMNS})")
                    db.execute("CREATE INDEX IF NOT EXISTS runs_signature ON runs(signature)")
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _read_only(self) -> sqlite3.Connection:
        """The database of a folder xp may not write (a read-only mount): read as it is, and writing fails with
        SQLite's "readonly database", which the CLI says in one line."""
        if not self.db_path.exists():  # Nothing was ever recorded: an empty table that refuses writes too.
            db = sqlite3.connect(":memory:")
            db.execute(f"CREATE TABLE runs ({_COLUMNS})")
            db.execute("PRAGMA query_only=ON")
            return db
        # `immutable`: no -shm or -wal file can be made beside it, and nothing can change it while read.
        with self._guard():
            return sqlite3.connect(f"{self.db_path.as_uri()}?mode=ro&immutable=1", uri=True, timeout=30)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turns SQLite's errors about this file into one line naming it and the fix."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "readonly database" in str(exc):
                raise  # A read-only .xp/: the CLI says so in one line (the file itself is fine).
            if "locked" in str(exc) or "busy" in str(exc):
                raise StateError(f"the run-cache {self.db_path} stayed locked for 30 s ({exc})",
                                 hint="another xp process holds it; try again when it is done") from None
            raise self._unreadable(exc) from None
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: Exception) -> Exception:
        from pyhelper.core.storage.disk import full

        if "disk is full" in str(exc) or ("disk I/O error" in str(exc) and full(self.db_path)):
            return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (SQLite: {exc})", str(self.db_path))
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StateError(f"the run-cache {self.db_path} cannot be read ({detail})",
                          hint=f"move it away (mv '{self.db_path}' '{self.db_path}.broken'): xp starts a new one; "
                               "the runs it remembered are forgotten, experiments and outputs are not")

    def record(
        self,
        *,
        stage: str,
        cmd: str | tuple[str, ...],
        wdir: str,
        deps: dict[str, str],
        params: dict[str, dict[str, Any]],
        outs: list[RecordedOut],
        duration: float,
        metrics: dict[str, Any],
        dep_meta: dict[str, dict[str, Any]] | None = None,
        created: float | None = None,
        replace: bool = True,
    ) -> RunRecord:
        """Stores a successful run (an identical run replaces its older record). Without `replace` an identical
        run already recorded is kept as it is (a run arriving from a remote never hides the local record, with its
        timing and metrics), and the record returned is the one given."""
        sig = signature(cmd, deps, params)
        out_key = json.dumps(sorted((o.path, o.hash.md5) for o in outs))
        run_id = hashlib.sha256(f"{stage}\0{sig}\0{out_key}".encode()).hexdigest()[:12]
        record = RunRecord(
            id=run_id, stage=stage, signature=sig, cmd=cmd, wdir=wdir, deps=deps, params=params,
            outs=tuple(outs), created=time.time() if created is None else created, duration=duration,
            metrics=metrics, dep_meta=dict(dep_meta or {}),
        )
        db = self._conn()
        with self._guard(), db:
            db.execute(
                f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO runs VALUES (?,?,?,?,?,?)",
                (run_id, sig, stage, record.created, duration, json.dumps(_to_json(record))),
            )
        return record

    def lookup(self, sig: str) -> list[RunRecord]:
        """Runs with this signature, newest first."""
        with self._guard():
            rows = self._conn().execute(
                "SELECT body FROM runs WHERE signature=? ORDER BY created DESC", (sig,)
            ).fetchall()
        return [_from_json(json.loads(body)) for (body,) in rows]

    def list(self, *, stage: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Recorded runs, newest first, optionally of one stage only."""
        query = "SELECT body FROM runs"
        args: tuple[Any, ...] = ()
        if stage:
            query += " WHERE stage=? OR stage LIKE ?"
            args = (stage, stage + "@%")
        query += " ORDER BY created DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._guard():
            rows = self._conn().execute(query, args).fetchall()
        return [_from_json(json.loads(body)) for (body,) in rows]

    def get(self, run_id: str) -> RunRecord:
        """The run whose id starts with `run_id`; an unknown or ambiguous id is an error."""
        with self._guard():
            rows = self._conn().execute(
                "SELECT body FROM runs WHERE id LIKE ? ORDER BY created DESC", (run_id + "%",)
            ).fetchall()
        if not rows or not run_id:
            raise UnknownRun(f"no recorded run has the id '{run_id}'", hint="list runs with `xp runs list`")
        if len(rows) > 1:
            raise UnknownRun(f"the id '{run_id}' matches {len(rows)} runs",
                             hint="give more characters of the id (see `xp runs list`)")
        return _from_json(json.loads(rows[0][0]))

    def close(self) -> None:
        """Closes the database."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _to_json(record: RunRecord) -> dict[str, Any]:
    """A record as versioned JSON."""
    return {
        "version": SCHEMA_VERSION,
        "id": record.id,
        "stage": record.stage,
        "signature": record.signature,
        "cmd": list(record.cmd) if isinstance(record.cmd, tuple) else record.cmd,
        "wdir": record.wdir,
        "deps": record.deps,
        "params": record.params,
        "outs": [
            {"path": o.path, "kind": o.kind, "cache": o.cache, "md5": o.hash.md5, "size": o.hash.size,
             "nfiles": o.hash.nfiles, "isexec": o.hash.isexec}
            for o in record.outs
        ],
        "created": record.created,
        "duration": record.duration,
        "metrics": record.metrics,
        **({"dep_meta": record.dep_meta} if record.dep_meta else {}),
    }


def _from_json(data: dict[str, Any]) -> RunRecord:
    """The inverse of `_to_json`."""
    cmd = data["cmd"]
    return RunRecord(
        id=data["id"],
        stage=data["stage"],
        signature=data["signature"],
        cmd=tuple(cmd) if isinstance(cmd, list) else cmd,
        wdir=data.get("wdir", "."),
        deps=data["deps"],
        params=data["params"],
        outs=tuple(
            RecordedOut(path=o["path"], kind=o["kind"], cache=o["cache"],
                        hash=HashInfo(md5=o["md5"], size=o["size"], nfiles=o.get("nfiles"),
                                      isexec=o.get("isexec", False)))
            for o in data["outs"]
        ),
        created=data["created"],
        duration=data["duration"],
        metrics=data.get("metrics", {}),
        dep_meta=data.get("dep_meta") or {},
    )
