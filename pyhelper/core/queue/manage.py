"""Queue operations a person asks for: status, kill, stop, remove, retry, wait for the queue."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pyhelper.core.project import Project
from pyhelper.core.queue.db import LEASE_SECONDS, Entry, QueueDb, Status, Worker
from pyhelper.core.queue.worker import log_path, reap
from pyhelper.errors import BadInput


@dataclass(frozen=True)
class QueueState:
    """Every entry and the live workers, after dead workers' entries were dealt with."""

    entries: tuple[Entry, ...]
    workers: tuple[Worker, ...]

    def count(self, status: str) -> int:
        """How many entries have this status."""
        return sum(1 for e in self.entries if e.status == status)


def state(project: Project) -> QueueState:
    """The queue as it is now."""
    db = QueueDb(project)
    try:
        reap(project, db)
        return QueueState(tuple(db.entries()), tuple(db.workers()))
    finally:
        db.close()


def _find_all(db: QueueDb, specs: list[str]) -> list[Entry]:
    return [db.find(spec) for spec in specs]  # All found before anything changes.


def kill(project: Project, specs: list[str], *, force: bool = False) -> list[Entry]:
    """Cancels queued entries and stops running ones (SIGTERM, or SIGKILL with `force`)."""
    if not specs:
        raise BadInput("name the entries to kill", hint="see `xp queue status`")
    db = QueueDb(project)
    try:
        entries = _find_all(db, specs)
        finished = [e.name for e in entries if e.status not in ("queued", "running")]
        if finished:
            raise BadInput(f"{', '.join(finished)} already finished", hint="remove them with `xp queue remove`")
        db.request_cancel([e.id for e in entries], force=force)
        return entries
    finally:
        db.close()


def stop(project: Project, *, kill_running: bool = False, pids: list[int] | None = None) -> int:
    """Asks every worker (or those with `pids`) to exit after its current entry (or now, with
    `kill_running`); returns how many were asked."""
    db = QueueDb(project)
    try:
        return db.stop_workers(kill=kill_running, pids=pids)
    finally:
        db.close()


def forget(project: Project, experiments: list[tuple[str, str]]) -> int:
    """Removes the finished entries of these (baseline, name) experiments, which `xp exp remove`
    removed: `queue status` would list runs whose result is gone. Running and queued entries stay
    (they record anew). Returns how many went; a project without a queue is not given one."""
    if not experiments or not (project.xp_dir / "queue.db").is_file():
        return 0
    wanted = set(experiments)
    db = QueueDb(project)
    try:
        ids = [e.id for e in db.entries(("success", "failed", "cancelled")) if (e.baseline, e.name) in wanted]
    finally:
        db.close()
    return len(remove(project, ids)) if ids else 0


def remove(project: Project, specs: list[str], *, statuses: tuple[Status, ...] = ()) -> list[Entry]:
    """Removes the named entries, or every entry with one of `statuses` (never running ones)."""
    from pyhelper.core.git.gitrepo import open_repo
    from pyhelper.core.git.refs import queue_ref

    db = QueueDb(project)
    try:
        if specs:
            entries = _find_all(db, specs)
        elif statuses:
            entries = db.entries(statuses)
        else:
            raise BadInput("nothing to remove", hint="name entries, or pass --queued, --success, --failed or --all")
        running = [e.name for e in entries if e.status == "running"]
        if running and specs:
            raise BadInput(f"{', '.join(running)} is running", hint="kill it first with `xp queue kill`")
        removed = set(db.remove([e.id for e in entries if e.status != "running"]))
        entries = [e for e in entries if e.id in removed]
        repo = open_repo(project)
        for entry in entries:
            ref = queue_ref(entry.id)
            if ref in repo.references:
                repo.references.delete(ref)
            log_path(project, entry.id).unlink(missing_ok=True)
        return entries
    finally:
        db.close()


def retry(project: Project, specs: list[str]) -> list[Entry]:
    """Queues finished entries again (same commit, same params)."""
    db = QueueDb(project)
    try:
        entries = _find_all(db, specs)
        busy = [e.name for e in entries if e.status in ("queued", "running")]
        if busy:
            raise BadInput(f"{', '.join(busy)} is still queued or running", hint="retry only finished entries")
        db.retry([e.id for e in entries])
        return [db.get(e.id) for e in entries]
    finally:
        db.close()


def wait(project: Project, *, on_tick: Callable[[QueueState], None] = lambda s: None,
         interval: float = 0.1, timeout: float | None = None) -> QueueState:
    """Waits until nothing is queued or running (or no worker is left to run it)."""
    started = time.monotonic()
    last_worker = started + 10.0  # Workers may take a moment to register.
    while True:
        current = state(project)
        on_tick(current)
        pending = current.count("queued") + current.count("running")
        if pending == 0:
            return current
        now = time.monotonic()
        if current.workers:
            last_worker = max(last_worker, now)
        # With no worker left, a running entry is a lost worker's: it is reaped within a lease.
        elif now > last_worker and (not current.count("running") or now > last_worker + 2 * LEASE_SECONDS):
            return current
        if timeout is not None and time.monotonic() - started > timeout:
            return current
        time.sleep(interval)
