"""The queue a person works with, whichever backend holds it: `open_queue(project)`.

`xp queue …` and the editor's queue requests call this interface and never ask which backend is in
use. Two implementations: `LocalQueue` (SQLite in `.xp/queue.db`, workers on this machine) and
`RemoteQueue` (RQ on Redis, workers anywhere, experiments travelling through a git remote). What
differs between them lives here, once: how entries are found and changed, how a kill reaches a run,
how workers are started and stopped, where a log is read, what happens when a run ends (a remote
one's experiment is fetched home).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pyhelper.core.queue.db import Entry, Status, Worker
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from pyhelper.core.project import Project
    from pyhelper.core.queue.backend import QueueConfig
    from pyhelper.core.queue.db import QueueDb
    from pyhelper.core.queue.recover import Recovered
    from pyhelper.core.queue.redis_backend import RedisQueue

ACTIVE: tuple[Status, ...] = ("queued", "running")
FINISHED: tuple[Status, ...] = ("success", "failed", "cancelled")


@dataclass(frozen=True)
class QueueView:
    """Every entry and the live workers; `fetched`: experiments a remote queue's workers finished,
    brought home while looking (their names)."""

    entries: tuple[Entry, ...]
    workers: tuple[Worker, ...]
    fetched: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        """How many entries have this status."""
        return sum(1 for e in self.entries if e.status == status)


@dataclass(frozen=True)
class Killed:
    """What `kill` did: the entries (as they were), and those a remote queue had to stop the hard way."""

    entries: list[Entry]
    hard_stopped: list[str] = field(default_factory=list)


class Queue(Protocol):
    """What the CLI and the server do with a queue."""

    where: str
    """Where it is, for messages: '' for the local queue, ' on redis://host…' (password hidden)."""
    start_hint: str
    """How a person starts workers for it (a command)."""
    about: dict[str, str]
    """What `queue start --json` says besides the pids (a remote queue's URL and git remote, passwords hidden)."""
    started: int
    """How many workers `run_all` started (also when it was interrupted)."""

    def view(self) -> QueueView:
        """The queue as it is now (a lost worker's entries already dealt with)."""

    def find(self, spec: str) -> Entry:
        """The entry named `spec` (the newest of that name), or whose id starts with it."""

    def get(self, entry_id: str) -> Entry:
        """The entry as it is now."""

    def kill(self, specs: list[str], *, force: bool = False, answer_first: bool = False) -> Killed:
        """Cancels queued entries and stops running ones (SIGTERM, a grace, SIGKILL; `force`: SIGKILL now).
        `answer_first`: return at once and make sure of the stop in the background (the editor's way)."""

    def start_workers(self, jobs: int, *, idle: float) -> list[int]:
        """Starts `jobs` detached workers on this machine (they outlive this process and exit after `idle`
        seconds with nothing to do); their pids."""

    def stop_workers(self, *, kill_running: bool = False) -> int:
        """Asks every worker to stop after its current run (now, with `kill_running`); how many were asked."""

    def remove(self, specs: list[str], statuses: tuple[Status, ...] = ()) -> list[Entry]:
        """Removes the named entries, or every entry with one of `statuses` (never a running one)."""

    def retry(self, specs: list[str]) -> list[Entry]:
        """Queues finished entries again (same commit, same params)."""

    def recover(self, *, dry: bool = False) -> Recovered:
        """Re-creates entries the queue lost, from git."""

    def read_log(self, entry_id: str, offset: int, limit: int = 1 << 20) -> bytes:
        """The entry's log from byte `offset` on (at most `limit` bytes)."""

    def finished(self, entries: list[Entry]) -> list[str]:
        """After runs ended: what must come home does (a remote queue fetches the experiments); their names."""

    def run_all(self, jobs: int, on_tick: Callable[[list[Entry]], None]) -> RanAll:
        """`exp run --run-all -j N`: starts `jobs` workers here and returns once what is queued now (and
        anything queued meanwhile) is finished, or nobody is left to run it; `on_tick` gets those entries
        as they change. Ctrl-C (KeyboardInterrupt) stops the workers it started, then goes on up."""

    def close(self) -> None:
        """Releases the connection."""


@dataclass(frozen=True)
class RanAll:
    """What `run_all` ran: the entries (as they ended), and the experiments brought home (their names)."""

    entries: list[Entry]
    fetched: list[str] = field(default_factory=list)
    workers: int = 0
    """How many workers it started."""


def open_queue(project: Project) -> Queue:
    """The queue `.xp/config` selects (the local one when there is none); Redis is imported only for that one."""
    from pyhelper.core.queue.backend import redis_queue

    remote = redis_queue(project)
    return RemoteQueue(project, remote) if remote is not None else LocalQueue(project)


class LocalQueue:
    """The queue in `.xp/queue.db`, run by workers on this machine."""

    where = ""
    start_hint = "xp queue start -j N"

    def __init__(self, project: Project):
        self.project = project
        self.started = 0
        self.about: dict[str, str] = {}

    def view(self) -> QueueView:
        from pyhelper.core.queue.manage import state

        now = state(self.project)
        return QueueView(now.entries, now.workers)

    def _db(self) -> QueueDb:
        from pyhelper.core.queue.db import QueueDb

        return QueueDb(self.project)

    def find(self, spec: str) -> Entry:
        db = self._db()
        try:
            return db.find(spec)
        finally:
            db.close()

    def get(self, entry_id: str) -> Entry:
        from pyhelper.core.queue.worker import reap

        db = self._db()
        try:
            reap(self.project, db)  # A dead worker's entry ends, so following it ends too.
            return db.get(entry_id)
        finally:
            db.close()

    def kill(self, specs: list[str], *, force: bool = False, answer_first: bool = False) -> Killed:
        from pyhelper.core.queue.manage import kill

        return Killed(kill(self.project, specs, force=force))

    def start_workers(self, jobs: int, *, idle: float) -> list[int]:
        from pyhelper.core.queue.worker import start_workers

        return start_workers(self.project, jobs, idle=idle)

    def stop_workers(self, *, kill_running: bool = False) -> int:
        from pyhelper.core.queue.manage import stop

        return stop(self.project, kill_running=kill_running)

    def remove(self, specs: list[str], statuses: tuple[Status, ...] = ()) -> list[Entry]:
        from pyhelper.core.queue.manage import remove

        return remove(self.project, specs, statuses=statuses)

    def retry(self, specs: list[str]) -> list[Entry]:
        from pyhelper.core.queue.manage import retry

        return retry(self.project, specs)

    def recover(self, *, dry: bool = False) -> Recovered:
        from pyhelper.core.queue.recover import recover

        return recover(self.project, dry=dry)

    def read_log(self, entry_id: str, offset: int, limit: int = 1 << 20) -> bytes:
        from pyhelper.core.queue.worker import log_path

        path = log_path(self.project, entry_id)
        if not path.exists():
            return b""
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(limit)

    def finished(self, entries: list[Entry]) -> list[str]:
        return []  # The local workers recorded them here already.

    def run_all(self, jobs: int, on_tick: Callable[[list[Entry]], None]) -> RanAll:
        from pyhelper.core.queue.manage import state, stop, wait
        from pyhelper.core.queue.worker import start_workers

        since = time.time()
        # What this run is for: entries queued or running now, and any queued meanwhile.
        ours = {e.id for e in state(self.project).entries if e.status in ACTIVE}
        pids = start_workers(self.project, jobs, idle=1.0)
        self.started = len(pids)

        def mine(entries: tuple[Entry, ...]) -> list[Entry]:
            return [e for e in entries if e.id in ours or e.created >= since]

        try:
            final = mine(wait(self.project, on_tick=lambda now: on_tick(mine(now.entries))).entries)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop the workers this run started, as each would stop.
            _stop_started(pids)
            raise
        # What was queued is done: the workers of this run exit now rather than idle and take what is
        # queued later (that waits for `xp queue start` or the next --run-all).
        stop(self.project, pids=pids)
        return RanAll(final, workers=len(pids))

    def close(self) -> None:
        pass


class RemoteQueue:
    """The queue on RQ/Redis (`.xp/config`): entries in Redis, runs on workers anywhere, experiments on the
    shared git remote."""

    def __init__(self, project: Project, queue: RedisQueue):
        from pyhelper.core.credentials import redact

        assert queue.remote is not None  # A configured Redis queue always has its remote (read_config checks).
        self.project = project
        self.queue = queue
        self.remote: str = queue.remote
        self.started = 0
        self.where = f" on {redact(queue.url)}"
        self.start_hint = f"xp queue worker --backend {redact(queue.url)} --remote URL"
        self.about = {"backend": redact(queue.url), "remote": redact(self.remote)}

    def view(self) -> QueueView:
        from pyhelper.core.queue.redis_backend import bring_home

        entries = self.queue.entries()
        fetched = bring_home(self.project, self.remote, entries)
        return QueueView(tuple(entries), tuple(self.queue.workers()), tuple(fetched))

    def find(self, spec: str) -> Entry:
        return self.queue.find(spec)

    def get(self, entry_id: str) -> Entry:
        return self.queue.get(entry_id)

    def kill(self, specs: list[str], *, force: bool = False, answer_first: bool = False) -> Killed:
        """The cancel flag (the worker sends SIGTERM, waits its grace, then SIGKILL; `force`: SIGKILL at once);
        a run still going after that is stopped by RQ's stop-job command (`remote_kill.py`), in a thread of
        its own with `answer_first`."""
        from pyhelper.core.queue import remote_kill

        entries = [self.queue.find(spec) for spec in specs]
        if not entries:
            raise BadInput("name the entries to kill", hint="see `xp queue status`")
        finished = [e.name for e in entries if e.status not in ACTIVE]
        if finished:
            raise BadInput(f"{', '.join(finished)} already finished", hint="remove them with `xp queue remove`")
        self.queue.request_cancel([e.id for e in entries], force=force)
        running = [e.id for e in entries if e.status == "running"]
        if answer_first:
            if running:
                import threading

                threading.Thread(target=_stop_the_rest, args=(self.project, running, force), daemon=True,
                                 name="xp-queue-hard-stop").start()
            return Killed(entries)
        return Killed(entries, remote_kill.stop_the_rest(self.queue, running, force=force))

    def start_workers(self, jobs: int, *, idle: float) -> list[int]:
        """RQ workers on this machine for the Redis queue (more can join from any machine)."""
        from pyhelper.core.queue.backend import read_config

        if jobs < 0:
            raise BadInput("-j must be 0 or more", hint="pass -j N with N ≥ 0 (0: only the workers already running)")
        if idle < 0:
            raise BadInput("--idle must be 0 or more", hint="pass --idle SECONDS")
        return [proc.pid for proc in spawn_workers(self.project, read_config(self.project), jobs, idle=idle)]

    def stop_workers(self, *, kill_running: bool = False) -> int:
        """RQ's shutdown command to every worker (each ends its current run first; with `kill_running`,
        running entries are cancelled too)."""
        from rq.command import send_shutdown_command

        from pyhelper.core.queue.redis_backend import guarded

        workers = self.queue.workers()
        if kill_running:
            self.queue.request_cancel([e.id for e in self.queue.entries(("running",))], force=True)
        with guarded(self.queue.url):
            for w in workers:
                send_shutdown_command(self.queue.redis, w.id)
        return len(workers)

    def remove(self, specs: list[str], statuses: tuple[Status, ...] = ()) -> list[Entry]:
        """The entries' hashes, logs and RQ jobs (never running ones)."""
        if specs:
            entries = [self.queue.find(spec) for spec in specs]
            running = [e.name for e in entries if e.status == "running"]
            if running:
                raise BadInput(f"{', '.join(running)} is running", hint="kill it first with `xp queue kill`")
        elif statuses:
            entries = self.queue.entries(statuses)
        else:
            raise BadInput("nothing to remove", hint="name entries, or pass --queued, --success, --failed or --all")
        removed = set(self.queue.remove([e.id for e in entries]))
        return [e for e in entries if e.id in removed]

    def retry(self, specs: list[str]) -> list[Entry]:
        """Finished entries get a new RQ job."""
        entries = [self.queue.find(spec) for spec in specs]
        busy = [e.name for e in entries if e.status in ACTIVE]
        if busy:
            raise BadInput(f"{', '.join(busy)} is still queued or running", hint="retry only finished entries")
        return self.queue.retry([e.id for e in entries])

    def recover(self, *, dry: bool = False) -> Recovered:
        """Entries Redis lost come back from the shared remote."""
        from pyhelper.core.queue.remote_recover import recover

        return recover(self.project, self.queue, dry=dry)

    def read_log(self, entry_id: str, offset: int, limit: int = 1 << 20) -> bytes:
        return self.queue.read_log(entry_id, offset, limit)

    def finished(self, entries: list[Entry]) -> list[str]:
        from pyhelper.core.queue.redis_backend import bring_home

        return bring_home(self.project, self.remote, entries)

    def run_all(self, jobs: int, on_tick: Callable[[list[Entry]], None]) -> RanAll:
        """Local workers for the Redis queue; what they (or any other worker) finish is fetched home, with
        its outputs from the shared cache dir."""
        from pyhelper.core.queue.backend import read_config

        if jobs < 0:
            raise BadInput("-j must be 0 or more", hint="pass -j N with N ≥ 0 (0: only the workers already running)")
        since = time.time()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ours = {e.id for e in self.queue.entries(ACTIVE)}
            procs = spawn_workers(self.project, read_config(self.project), jobs, idle=0)
            self.started = len(procs)
            idle_since = time.monotonic()
            while True:
                mine = [e for e in self.queue.entries() if e.id in ours or e.created >= since]
                on_tick(mine)
                running = sum(1 for e in mine if e.status == "running")
                if all(e.status in FINISHED for e in mine):
                    break
                if running or self.queue.workers():
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > 10:  # Nobody is left to run what is queued.
                    break
                time.sleep(0.3)
            return RanAll(mine, self.finished(mine), workers=len(procs))
        finally:
            for proc in procs:  # RQ's warm shutdown: an idle worker exits at once, a busy one after its run.
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    def close(self) -> None:
        self.queue.close()



def _stop_the_rest(project: Project, entry_ids: list[str], force: bool) -> None:
    """The hard stop for runs that did not end after their cancel flag, on a connection of its own."""
    import logging

    from pyhelper.core.queue import remote_kill
    from pyhelper.core.queue.backend import redis_queue
    from pyhelper.errors import XpError

    try:
        queue = redis_queue(project)
        if queue is None:
            return
        try:
            stopped = remote_kill.stop_the_rest(queue, entry_ids, force=force)
        finally:
            queue.close()
        if stopped:
            logging.getLogger(__name__).warning("stopped %d run(s) with RQ's stop-job command", len(stopped))
    except (XpError, OSError) as exc:  # Redis gone meanwhile: the runs' leases lapse on their own.
        logging.getLogger(__name__).warning("could not stop the killed runs: %s", exc)


def _stop_started(pids: list[int]) -> None:
    """SIGTERMs workers this process started and waits (bounded) for them to exit."""
    from pyhelper.core.processes import alive
    from pyhelper.core.queue.worker import KILL_GRACE_SECONDS

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # A second Ctrl-C must not cut the clean-up short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    running = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            running.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + KILL_GRACE_SECONDS + 5
    while running and time.monotonic() < deadline:
        running = [pid for pid in running if alive(pid)]
        time.sleep(0.05)


BACKEND_ENV = "XP_QUEUE_BACKEND"
"""The worker's Redis URL when --backend is not given (how `start` hands it over without argv)."""
REMOTE_ENV = "XP_QUEUE_REMOTE"
"""The worker's git remote when --remote is not given."""


def spawn_workers(project: Project, config: QueueConfig, count: int, *, idle: float) -> list[subprocess.Popen[bytes]]:
    """Starts `count` detached `xp queue worker` processes for the project's Redis queue. The URL and the
    remote go through the environment, not argv: they may hold a password or token (`ps` shows argv)."""
    logs = project.ensure_xp_dir() / "logs"
    logs.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "pyhelper", "queue", "worker", "--idle", str(idle)]
    if config.cache_dir:
        command += ["--cache-dir", config.cache_dir]
    if config.insecure:
        command.append("--insecure")
    env = {**os.environ, BACKEND_ENV: config.backend, REMOTE_ENV: config.remote or ""}
    procs = []
    for _ in range(count):
        with open(logs / "workers.log", "ab") as out:
            procs.append(subprocess.Popen(command, cwd=project.root, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True, env=env))
    return procs
