"""A queue worker: claim an entry, run it in a private work tree, record it, repeat.

The worker heartbeats from a thread (renewing its lease, and noticing cancel and stop requests,
which it carries out by signalling the running command's process group). It records an
experiment only while it still holds the entry's lease, and the experiment's commit names the
entry (a trailer), so an entry whose worker died right after recording is found recorded, not
run again. The stage's output streams to `.xp/logs/<entry id>.log`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pyhelper.core import tmp_workspace
from pyhelper.core.gitrepo import open_repo, signature, snapshot_tree
from pyhelper.core.project import Project
from pyhelper.core.queue.db import HEARTBEAT_SECONDS, Entry, QueueDb
from pyhelper.core.queue.enqueue import TRAILER
from pyhelper.core.refs import ExpRef
from pyhelper.core.repro import ReproEvent, reproduce, workspace_lock
from pyhelper.errors import StageFailed, XpError

DEFAULT_IDLE_SECONDS = 5.0


def log_path(project: Project, entry_id: str) -> Path:
    """Where an entry's log is written."""
    return project.xp_dir / "logs" / f"{entry_id}.log"


def start_workers(project: Project, jobs: int, *, idle: float = DEFAULT_IDLE_SECONDS) -> list[int]:
    """Starts `jobs` detached worker processes; returns their pids."""
    from pyhelper.errors import BadInput

    if jobs < 1:
        raise BadInput("-j must be at least 1", hint="pass -j N with N ≥ 1")
    logs = project.ensure_xp_dir() / "logs"
    logs.mkdir(exist_ok=True)
    pids = []
    for _ in range(jobs):
        with open(logs / "workers.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pyhelper", "-C", str(project.root), "queue", "worker", "--idle", str(idle)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        pids.append(proc.pid)
    return pids


def recorded_entries(project: Project, entries: list[Entry]) -> dict[str, str]:
    """Entry id → experiment commit, for running entries whose experiment is already in git."""
    if not entries:
        return {}
    repo = open_repo(project)
    found = {}
    for entry in entries:
        ref = str(ExpRef(entry.baseline, entry.name))
        if ref in repo.references:
            commit = repo[repo.references[ref].target]
            if f"{TRAILER}: {entry.id}" in commit.message:
                found[entry.id] = str(commit.id)
    return found


def reap(project: Project, db: QueueDb) -> list[str]:
    """Marks entries of dead workers (recorded ones as success, others per their retries)."""
    return db.reap(recorded_entries(project, db.entries(("running",))))


class _Heartbeat(threading.Thread):
    """Renews the lease and signals the running command when asked to cancel or stop."""

    def __init__(self, project: Project, worker: str):
        super().__init__(daemon=True)
        self.project = project
        self.worker = worker
        self.pgid: int | None = None
        self.cancelled = False
        self.stopping = False
        self.done = threading.Event()

    def run(self) -> None:
        db = QueueDb(self.project)
        try:
            while not self.done.wait(HEARTBEAT_SECONDS):
                try:
                    cancel, stopping = db.heartbeat(self.worker)
                except XpError:
                    continue
                self.stopping = bool(stopping)
                if cancel and self.pgid is not None:
                    self.cancelled = True
                    self._signal(signal.SIGKILL if cancel >= 2 else signal.SIGTERM)
        finally:
            db.close()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def work(project: Project, *, idle: float = DEFAULT_IDLE_SECONDS) -> int:
    """The worker loop; returns how many entries it ran. Exits after `idle` seconds with nothing to do."""
    db = QueueDb(project)
    worker = db.register()
    beat = _Heartbeat(project, worker)
    beat.start()
    ran = 0
    last_work = time.monotonic()
    try:
        while not beat.stopping:
            reap(project, db)
            entry = db.claim(worker)
            if entry is None:
                if time.monotonic() - last_work > idle:
                    break
                time.sleep(0.2)
                continue
            beat.cancelled = False
            _run_entry(project, db, worker, entry, beat)
            ran += 1
            last_work = time.monotonic()
    finally:
        beat.done.set()
        beat.join(timeout=5)
        db.unregister(worker)
        db.close()
    return ran


def _run_entry(project: Project, db: QueueDb, worker: str, entry: Entry, beat: _Heartbeat) -> None:
    """Runs one claimed entry and records its outcome."""
    path = log_path(project, entry.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        log.write(f"# {entry.name}: {' '.join(entry.params) or '(no params changed)'} (attempt {entry.attempts})\n")

        def on_event(event: ReproEvent) -> None:
            if event.kind == "started":
                beat.pgid = int(event.text)
            elif event.kind == "output":
                log.write(event.text + "\n")
            elif event.kind == "running":
                log.write(f"Running stage '{event.stage}' ({event.text})\n")
            elif event.kind == "command":
                log.write(f"> {event.text}\n")
            elif event.kind in ("skipped", "restored"):
                log.write(f"Stage '{event.stage}': {event.text}\n")

        repo = open_repo(project)
        private = None
        try:
            baseline = repo[entry.baseline]
            private = tmp_workspace.create(project, repo, baseline, repo[entry.rev].tree.id)
            with workspace_lock(private.project):
                reproduce(private.project, on_event=on_event)
            beat.pgid = None
            tree = snapshot_tree(private.repo, private.root, baseline.tree)
            sig = signature(repo)
            text = f"{entry.message or 'xp: experiment ' + entry.name}\n\n{TRAILER}: {entry.id}\n"
            commit = repo.create_commit(None, sig, sig, text, tree, [baseline.id])
            if not db.holds(entry.id, worker):
                log.write("# lost the lease (the entry was reaped or cancelled); nothing recorded\n")
                return
            ref = str(ExpRef(entry.baseline, entry.name))
            existing = repo.references.get(ref)
            if existing is not None and str(existing.target) != str(commit):
                raise XpError(f"an experiment named '{entry.name}' was recorded meanwhile",
                              hint=f"retry with another name: xp queue retry {entry.name}")
            repo.references.create(ref, commit, force=True)
            db.finish(entry.id, worker, "success", exp_rev=str(commit))
            log.write(f"# recorded experiment '{entry.name}' ({str(commit)[:7]})\n")
        except StageFailed as exc:
            status = "cancelled" if beat.cancelled else "failed"
            log.write(f"# {status}: {exc.message}\n")
            db.finish(entry.id, worker, status, exit_code=exc.returncode, error=exc.message.splitlines()[0])
        except Exception as exc:  # Anything else fails this entry, never the worker.
            log.write(f"# failed: {exc}\n")
            db.finish(entry.id, worker, "failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        finally:
            beat.pgid = None
            if private is not None:
                tmp_workspace.remove(private)
