"""A queue worker: claim an entry, run it in a private work tree, record it, repeat.

The worker heartbeats from a thread (renewing its lease, and noticing cancel requests, which it
carries out by signalling the running command's process group: SIGTERM, then SIGKILL after a
grace period). It records an experiment only while it holds the entry's lease, in the same
database transaction that checks it, and the experiment's commit names the entry (a trailer),
so an entry whose worker died right after recording is found recorded, not run again.
SIGTERM or Ctrl-C stops the running command the same way and gives the entry back (re-queued
when it has retries left, else failed). The stage's output streams to `.xp/logs/<entry id>.log`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pyhelper.core.git.gitcore import lookup_commit
from pyhelper.core.git.gitrepo import open_repo
from pyhelper.core.git.refs import ExpRef
from pyhelper.core.processes import alive, group_alive, hostname, signal_group
from pyhelper.core.project import Project
from pyhelper.core.queue.db import HEARTBEAT_SECONDS, Entry, QueueDb
from pyhelper.core.queue.enqueue import TRAILER
from pyhelper.errors import BadInput, StageFailed, XpError

DEFAULT_IDLE_SECONDS = 5.0
KILL_GRACE_SECONDS = 5.0
"""How long a command has to exit after SIGTERM before it gets SIGKILL."""


def log_path(project: Project, entry_id: str) -> Path:
    """Where an entry's log is written."""
    return project.xp_dir / "logs" / f"{entry_id}.log"


def start_workers(project: Project, jobs: int, *, idle: float = DEFAULT_IDLE_SECONDS) -> list[int]:
    """Starts `jobs` detached worker processes; returns their pids."""
    if jobs < 1:
        raise BadInput("-j must be at least 1", hint="pass -j N with N ≥ 1")
    if idle < 0:
        raise BadInput("--idle must be 0 or more", hint="pass --idle SECONDS")
    QueueDb(project).close()  # A broken database is reported here, not only in the workers' log.
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
    _wait_registered(project, pids)
    return pids


REGISTER_TIMEOUT_SECONDS = 60.0


def _wait_registered(project: Project, pids: list[int]) -> None:
    """Returns once every started worker is in the queue's table (or has exited): `queue status`
    right after `queue start` lists them, never "No worker is running". A worker that does not
    register in time (a very busy machine) is left to come up: the start itself did not fail."""
    from pyhelper.core.processes import alive

    deadline = time.monotonic() + REGISTER_TIMEOUT_SECONDS
    waiting = set(pids)
    while waiting and time.monotonic() < deadline:
        db = QueueDb(project)
        try:
            waiting -= {w.pid for w in db.workers()}
        finally:
            db.close()
        waiting = {pid for pid in waiting if alive(pid) and not _exited(pid)}
        if waiting:
            time.sleep(0.05)


def _exited(pid: int) -> bool:
    """True when our child `pid` has ended (and reaps it, so it is not left a zombie that looks alive)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # Not our child (or already reaped): alive() alone decides.
    return done == pid


def recorded_entries(project: Project, entries: list[Entry]) -> dict[str, str]:
    """Entry id → experiment commit, for entries whose experiment is already in git."""
    if not entries:
        return {}
    repo = open_repo(project)
    found = {}
    for entry in entries:
        ref = str(ExpRef(entry.baseline, entry.name))
        if ref in repo.references:
            commit = lookup_commit(repo, repo.references[ref].target)
            if f"{TRAILER}: {entry.id}" in commit.message:
                found[entry.id] = str(commit.id)
    return found


def reap(project: Project, db: QueueDb) -> list[str]:
    """Deals with entries of lost workers: recorded ones become success, others follow their retries.

    A worker is lost when its process is gone (on this host: seen at once) or its lease ran out
    (kill -9 on another host, a frozen machine). A lost worker's command runs on in its own
    process group; on this host it is killed, so a retry never runs beside it.
    """
    running = db.running()
    if not running:
        return []
    now = time.time()
    host = hostname()
    lost: dict[str, tuple[str | None, bool]] = {}
    for item in running:
        dead = item.host == host and item.pid is not None and not alive(item.pid)
        if dead or (item.lease_until is not None and item.lease_until < now):
            lost[item.entry.id] = (item.entry.worker, dead)
    if not lost:
        return []
    for item in running:  # A dead worker's command goes before its entry can be claimed again.
        if item.entry.id in lost and lost[item.entry.id][1] and item.pgid:
            _kill_orphan(project, item.pgid)
    reaped = db.reap(lost, recorded_entries(project, [r.entry for r in running if r.entry.id in lost]))
    for item in running:  # A late one's, once its entry is surely taken from it.
        if item.entry.id in reaped and not lost[item.entry.id][1] and item.pgid and item.host == host:
            _kill_orphan(project, item.pgid)
    return reaped






def _kill_orphan(project: Project, pgid: int) -> None:
    """SIGKILLs process group `pgid` if its leader still runs in one of our private work trees."""
    try:
        cwd = Path(os.readlink(f"/proc/{pgid}/cwd"))
    except OSError:
        return  # Gone already, or no /proc to make sure it is ours: leave it alone.
    if not cwd.is_relative_to(project.xp_dir.resolve() / "tmp"):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _Stopped(Exception):
    """The entry was cancelled, or its worker asked to stop, between two commands."""


class _Heartbeat(threading.Thread):
    """Renews the lease, and signals the running command when it is cancelled or the worker stops."""

    def __init__(self, project: Project, worker: str):
        super().__init__(daemon=True)
        self.project = project
        self.worker = worker
        self.pgid: int | None = None
        self.entry: str | None = None
        """The entry being run (a cancel request read for another one is ignored)."""
        self.cancel = 0
        """The current entry's cancel request: 0 none, 1 SIGTERM then SIGKILL, 2 SIGKILL now."""
        self.terminating = False
        """This worker got SIGTERM or SIGINT: stop the command, give the entry back, exit."""
        self.signalled_at: float | None = None
        self.done = threading.Event()
        # Re-entrant: the signal handler runs in the main thread, perhaps while it holds the lock.
        self.lock = threading.RLock()

    def run(self) -> None:
        db = QueueDb(self.project)
        try:
            while not self.done.wait(HEARTBEAT_SECONDS):
                try:
                    cancels = db.heartbeat(self.worker)
                except Exception:  # A busy database must not end the heartbeat; the next one may pass.
                    continue
                with self.lock:
                    if self.entry in cancels:
                        self.cancel = max(self.cancel, cancels[self.entry])
                self.enforce()
        finally:
            db.close()

    def enforce(self) -> None:
        """Signals the running command as the cancel request or a stop asks (escalating after the grace)."""
        with self.lock:
            if self.pgid is None or not (self.cancel or self.terminating):
                return
            now = time.monotonic()
            if self.cancel >= 2 or (self.signalled_at is not None and now - self.signalled_at >= KILL_GRACE_SECONDS):
                signal_group(self.pgid, signal.SIGKILL)
            elif self.signalled_at is None:
                self.signalled_at = now
                signal_group(self.pgid, signal.SIGTERM)

    def started(self, pgid: int) -> None:
        """A command started, leading process group `pgid`."""
        with self.lock:
            self.pgid = pgid
            self.signalled_at = None
        self.enforce()

    def ended(self) -> None:
        """No command runs now; after a cancel or stop, what is left of its process group is made to exit too.

        The group's leader (the shell) may exit at SIGTERM while a child that ignores it runs on:
        such a child gets the rest of the grace period, then SIGKILL.
        """
        with self.lock:
            pgid, signalled_at = self.pgid, self.signalled_at
            self.pgid = None
            self.signalled_at = None
        if pgid is None or signalled_at is None:
            return
        deadline = signalled_at + (0 if self.cancel >= 2 else KILL_GRACE_SECONDS)
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)






def work(project: Project, *, idle: float = DEFAULT_IDLE_SECONDS) -> int:
    """The worker loop; returns how many entries it ran. Exits after `idle` seconds with nothing to do,
    when asked to stop, on SIGTERM/SIGINT, or when its database file was deleted or replaced."""
    db = QueueDb(project)
    worker = db.register()
    beat = _Heartbeat(project, worker)

    def on_signal(signum: int, frame: object) -> None:
        beat.terminating = True
        beat.enforce()

    previous = {}
    if threading.current_thread() is threading.main_thread():  # Only the main thread may set handlers.
        stops = (signal.SIGTERM, signal.SIGINT) + (
            (signal.SIGHUP,) if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL else ())  # Not under nohup.
        previous = {sig: signal.signal(sig, on_signal) for sig in stops}
    beat.start()
    ran = 0
    last_work = time.monotonic()
    try:
        while not beat.terminating and not db.replaced():
            reap(project, db)
            entry = db.claim(worker)
            if entry is None:
                if db.orphaned_retries():
                    last_work = time.monotonic()  # Stay: once its lease runs out, a lost entry is ours to retry.
                if db.stopping(worker) or time.monotonic() - last_work > idle:
                    break
                time.sleep(0.2)
                continue
            with beat.lock:
                beat.entry = entry.id
                beat.cancel = 0
            _run_entry(project, db, worker, entry, beat)
            ran += 1
            last_work = time.monotonic()
    finally:
        beat.done.set()
        beat.join(timeout=5)
        with contextlib.suppress(XpError):  # The database is gone or broken; the worker's row goes with it.
            db.unregister(worker)
        db.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return ran


def _run_entry(project: Project, db: QueueDb, worker: str, entry: Entry, beat: _Heartbeat) -> None:
    """Runs one claimed entry (`experiments/execute.py`) and records its outcome."""
    from pyhelper.core.experiments.execute import Hooks, Stopped, execute, failure_line
    from pyhelper.core.experiments.save import gc_held, lost_objects, missing_object

    path = log_path(project, entry.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", buffering=1) as log:
        log.write(f"# {entry.name}: {' '.join(entry.params) or '(no params changed)'} (attempt {entry.attempts})\n")

        def started(pgid: int) -> None:
            beat.started(pgid)
            db.set_pgid(entry.id, worker, pgid)

        def stopping() -> bool:
            return bool(beat.cancel or beat.terminating or db.get(entry.id).cancel)

        def line(text: str) -> None:
            log.write(text + "\n")

        hooks = Hooks(log=line, started=started, ended=beat.ended, stopping=stopping,
                      discard=lambda: bool(beat.cancel or db.get(entry.id).cancel))
        repo = open_repo(project)
        try:
            ran = execute(project, repo, entry_id=entry.id, name=entry.name, rev=entry.rev, baseline=entry.baseline,
                          message=entry.message, hooks=hooks)
            commit = ran.commit
            ref = str(ExpRef(entry.baseline, entry.name))

            def record() -> None:
                with gc_held(repo):
                    set_result()

            def set_result() -> None:
                existing = repo.references.get(ref)
                # Replacing is fine only when it is this run's checkpoint or this entry's earlier result (a retry).
                if (existing is not None and str(existing.target) not in (commit, ran.tip)
                        and f"{TRAILER}: {entry.id}" not in lookup_commit(repo, existing.target).message):
                    raise XpError(f"an experiment named '{entry.name}' was recorded meanwhile",
                                  hint=f"rename that experiment, then `xp queue retry {entry.name}`")
                repo.references.create(ref, commit, force=True)
                missing = missing_object(repo, commit)
                if missing is not None:  # A `git gc --prune=now` deleted what the commit needs before the ref held it.
                    if existing is not None:
                        repo.references.create(ref, existing.target, force=True)
                    else:
                        repo.references.delete(ref)
                    raise lost_objects(f"experiment '{entry.name}'", missing)

            if db.finish(entry.id, worker, "success", exp_rev=commit, record=record):
                log.write(f"# recorded experiment '{entry.name}' ({commit[:7]})\n")
            else:
                log.write("# lost the lease (the entry was reaped or cancelled); nothing recorded\n")
        except (StageFailed, Stopped) as exc:
            beat.ended()  # Whatever the command left running is gone before the entry is marked.
            code = exc.returncode if isinstance(exc, StageFailed) else None
            if beat.cancel or db.get(entry.id).cancel:
                log.write(f"# cancelled{f' (exit code {code})' if code is not None else ''}\n")
                db.finish(entry.id, worker, "cancelled", exit_code=code, error="cancelled")
            elif beat.terminating:
                status = db.release(entry.id, worker, "its worker was stopped (SIGTERM or Ctrl-C)")
                log.write(f"# worker stopped; the entry is {status or 'no longer ours'}\n")
            else:
                assert isinstance(exc, StageFailed)
                log.write(f"# failed: {exc.message}\n")
                db.finish(entry.id, worker, "failed", exit_code=exc.returncode, error=failure_line(exc))
        except Exception as exc:  # Anything else fails this entry, never the worker.
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.write(f"# failed: {exc}\n")
            db.finish(entry.id, worker, "failed", error=message)
        finally:
            beat.ended()

