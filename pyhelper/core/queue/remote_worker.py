"""`xp queue worker --backend redis://…`: an RQ worker that runs queued experiments from a git remote.

Each job runs in RQ's work horse (a forked process): it fetches the entry's queue ref into a
cached mirror of the repository, checks the commit id, runs the pipeline in a fresh private work
tree of that mirror (the same code as the local queue), and pushes the experiment ref without
force — the first writer wins, and a ref already there with the identical tree counts as success.
Outputs go to the mirror's cache, which is the shared `--cache-dir` when one is given.

A watchdog thread in the horse (`remote_watch.py`) carries out cancel requests read from Redis
(SIGTERM to the stage's process group, a grace period, SIGKILL); when the worker process above it
dies (kill -9) or RQ's lease on the job is about to lapse unrenewed (a network cut), it stops the
stage, so a retry on another worker never runs beside it. RQ itself notices the lost worker (its
heartbeat lapses) and retries the job at most `retries` times.

A stage's checkpoints (`pyhelper.live`) are recorded in the mirror and each is pushed to the remote
under the experiment's ref as it is made (`remote_git.py`), so a lost machine keeps them; the
experiment commit continues the chain.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.processes import hostname
from pyhelper.core.queue.redis_backend import LOG_MAXLEN, RQ_QUEUE, connect, entry_key, log_key
from pyhelper.core.queue.remote_git import Superseded, mirror, publish
from pyhelper.core.queue.remote_watch import KILL_GRACE_SECONDS, LEASE_MARGIN, LEASE_SECONDS, Watch

__all__ = ["KILL_GRACE_SECONDS", "LEASE_MARGIN", "LEASE_SECONDS", "on_job_failure", "run_job", "work"]
from pyhelper.core.credentials import redact, redact_text
from pyhelper.errors import BadInput, StageFailed, XpError

if TYPE_CHECKING:
    import logging
    from types import TracebackType

    import redis
    from rq.job import Job
    from rq.queue import Queue

    from pyhelper.core.project import Project

MONITOR_SECONDS = 1
MAINTENANCE_SECONDS = 2
RECONNECT_SECONDS = 3.0
"""The longest a worker waits between two tries to reach a Redis that went away."""

_SETTINGS: dict[str, Any] = {}
"""This worker's --remote, --cache-dir and mirror folder (set before RQ forks a horse per job)."""


def default_mirror_root() -> Path:
    """Where workers keep their mirrors unless told otherwise."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xp" / "mirrors"


def work(url: str, *, remote: str, cache_dir: str | None = None, mirror_dir: str | None = None,
         burst: bool = False, idle: float | None = None, insecure: bool = False) -> int:
    """Runs RQ jobs of xp's queue until stopped (or, with `burst`, the queue is empty; with `idle`, after
    that long with nothing to do); returns how many jobs it ran.

    Every job runs from `remote` (never from a remote a job names) and only when it is xp's own job
    (`remote_job.XpJob`); a Redis that takes clients without a password is refused unless `insecure`."""
    from rq import Queue, Worker
    from rq.serializers import JSONSerializer

    from pyhelper.core.queue.redis_backend import check_secured
    from pyhelper.core.queue.remote_job import job_class

    if not remote:
        raise BadInput("a worker needs --remote URL: the git remote it fetches entries from and pushes results to",
                       hint="pass the same remote the project queues to (`remote` in its .xp/config)")
    from pyhelper.core.git.gitargs import check_remote

    check_remote(remote, what="worker's --remote")

    class XpWorker(Worker):
        """RQ's worker with a short lease, so a lost worker's job is retried within seconds."""

        # Redis away: try again every few seconds at most (RQ's default backs off to a minute), so a
        # restarted server gets its workers back at once.
        max_connection_wait_time = RECONNECT_SECONDS

        def get_heartbeat_ttl(self, job: Job) -> int:  # noqa: D102 - RQ's hook.
            return LEASE_SECONDS

        @property
        def dequeue_timeout(self) -> int:  # Idle workers look for abandoned jobs this often.
            return MAINTENANCE_SECONDS

        def execute_job(self, job: Job, queue: Queue) -> None:  # noqa: D102 - counted here: RQ's own counters live in the horse.
            ran[0] += 1
            # Redis gone while RQ notes how the horse ended must not end the worker: the entry's hash already
            # says how the run ended (the horse wrote it), and an unfinished note is cleaned up as abandoned.
            _while_redis_is_away(lambda: Worker.execute_job(self, job, queue), self.log,
                                 "the run's entry says how it ended; this worker goes on")

        # While a job runs, Redis going away for a moment must not end the worker (and with it the run):
        # its bookkeeping writes are skipped until the server answers again.
        def maintain_heartbeats(self, job: Job) -> None:  # noqa: D102 - RQ's hook.
            _while_redis_is_away(lambda: Worker.maintain_heartbeats(self, job), self.log)

        def set_current_job_working_time(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102 - RQ's hook.
            _while_redis_is_away(lambda: Worker.set_current_job_working_time(self, *args, **kwargs), self.log)

        # Between jobs too: RQ's loop quits on any error but a dequeue's, so a heartbeat, a suspension check or
        # its maintenance meeting a Redis that is restarting would end the worker for good (seen: the entry
        # queued after the restart was never run). Skipped instead; the next dequeue waits for the server.
        def heartbeat(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102 - RQ's hook.
            _while_redis_is_away(lambda: Worker.heartbeat(self, *args, **kwargs), self.log)

        def check_for_suspension(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102 - RQ's hook.
            _while_redis_is_away(lambda: Worker.check_for_suspension(self, *args, **kwargs), self.log)

        def run_maintenance_tasks(self) -> None:  # noqa: D102 - RQ's hook.
            _while_redis_is_away(lambda: Worker.run_maintenance_tasks(self), self.log)  # type: ignore[no-untyped-call]

        def fork_work_horse(self, job: Job, queue: Queue) -> None:  # noqa: D102 - RQ's hook.
            # The horse's watch follows the lease of this very execution (a job retried elsewhere has another).
            execution = getattr(self, "execution", None)
            _SETTINGS["execution"] = execution.composite_key if execution else None
            super().fork_work_horse(job, queue)

        def handle_exception(self, job: Job, *exc_info: Any) -> None:  # noqa: D102 - RQ's: a refused job is one line, not a traceback.
            kind, value = exc_info[0], exc_info[1]
            if kind is not None and kind.__name__ in ("ForeignJob", "DeserializationError"):
                why = str(value) if kind.__name__ == "ForeignJob" else f"refused job {job.id}: its payload is not JSON"
                self.log.warning("%s (nothing ran; see SECURITY.md)", why)
                return
            super().handle_exception(job, *exc_info)

        def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:  # noqa: D102 - RQ's cold shutdown and stop-job command.
            # The stage runs in a session of its own, so killing the horse's group would leave it running.
            _kill_stage(self.connection, self.get_current_job())
            super().kill_horse(sig)

    ran = [0]
    client = connect(url)
    check_secured(url, insecure=insecure)
    # Imported once here, so that each job's forked work horse starts with them loaded (saves ~0.3 s a job).
    import pyhelper.core.experiments.checkpoint  # noqa: F401
    import pyhelper.core.experiments.recorder  # noqa: F401
    import pyhelper.core.git.gitrepo  # noqa: F401
    import pyhelper.core.git.tmp_workspace  # noqa: F401
    import pyhelper.core.pipeline.repro  # noqa: F401
    import pyhelper.core.queue.enqueue  # noqa: F401

    _SETTINGS.update(url=url, remote=remote, cache_dir=cache_dir,
                     mirror_root=Path(mirror_dir) if mirror_dir else default_mirror_root())
    queue = Queue(RQ_QUEUE, connection=client, serializer=JSONSerializer, job_class=job_class())
    worker = XpWorker([queue], connection=client, serializer=JSONSerializer, job_class=job_class(), worker_ttl=30,
                      job_monitoring_interval=MONITOR_SECONDS, maintenance_interval=MAINTENANCE_SECONDS)
    worker.work(burst=burst, max_idle_time=int(idle) if idle else None, logging_level="WARNING")
    return ran[0]


def _while_redis_is_away(call: Callable[[], object], log: logging.Logger,
                         then: str = "the running experiment goes on") -> None:
    """Runs an RQ bookkeeping write; a connection error is logged as one line instead of ending the worker."""
    import redis

    try:
        call()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        log.warning("Redis is unreachable (%s); %s", exc, then)


def _kill_stage(client: redis.Redis, job: Job | None) -> None:
    """SIGKILLs the process group of the stage a job of this machine runs now (noted in its entry)."""
    if job is None:
        return
    try:
        key = entry_key((job.kwargs or {}).get("entry", job.id))
        pgid, worker = client.hmget(key, "pgid", "worker")
    except Exception:  # noqa: BLE001 - Redis away: the horse's watchdog is the other way the stage goes.
        return
    if pgid and (worker or b"").decode().startswith(f"{hostname()}:"):
        with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
            os.killpg(int(pgid), signal.SIGKILL)


class LeaseLost(Exception):
    """The run lost RQ's lease on its job (its stage was stopped; nothing recorded); the value names the run."""


def _current_run(client: redis.Redis, key: str) -> int | None:
    """The entry's newest run number, or None when Redis cannot say."""
    try:
        return int(client.hget(key, "runs") or 0)
    except Exception:  # noqa: BLE001 - Redis away: RQ cannot act on the failure either.
        return None


def run_job(entry: str, name: str, rev: str, baseline: str, remote: str = "", params: tuple[str, ...] | list[str] = (),
            message: str = "", retries: int = 0) -> dict[str, Any]:
    """The RQ job: run commit `rev` from this worker's remote as experiment `name` (entry `entry`).

    The job's own `remote` is what the queuing machine calls the remote (shown, never used): a job cannot
    send a worker to another repository."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None  # RQ calls this function only as a job's.
    client = job.connection
    key = entry_key(entry)
    remote = _SETTINGS["remote"]
    state = client.hget(key, "status")
    if state in (b"cancelled", b"success"):
        return {"status": state.decode()}
    with client.pipeline(transaction=True) as pipe:
        pipe.hincrby(key, "attempts", 1)
        pipe.hincrby(key, "runs", 1)  # Never reset (unlike attempts): names this run in its checkpoints.
        attempt, number = pipe.execute()
    client.hset(key, mapping={"status": "running", "started": time.time(), "finished": "", "error": "",
                              "exit_code": "", "worker": f"{hostname()}:{os.getppid()}"})
    watch = Watch(_SETTINGS["url"], entry, job, _SETTINGS.get("execution"))

    def log(text: str) -> None:
        with contextlib.suppress(Exception):  # A lost log line must not fail the run.
            client.xadd(log_key(entry), {"line": text}, maxlen=LOG_MAXLEN, approximate=True)

    def finish(status: str, line: str, **fields: Any) -> dict[str, Any]:
        """Writes the outcome and the last log line in one transaction (a follower sees both or neither);
        a run that lost its lease writes nothing: the entry is another run's now."""
        def write() -> None:
            with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"status": status, "finished": time.time(), **fields})
                pipe.xadd(log_key(entry), {"line": line}, maxlen=LOG_MAXLEN, approximate=True)
                pipe.execute()

        if watch.lost:
            log(f"# {line.removeprefix('# ')} (after this worker lost its lease: nothing recorded here)")
            return {"status": "lost"}
        _retrying(write, seconds=max(1.0, watch.lease_until - time.time() - LEASE_MARGIN))
        return {"status": status, **fields}

    log(f"# {name}: {' '.join(params) or '(no params changed)'} (attempt {attempt} on {hostname()})")
    watch.start()
    try:
        outcome = _run(entry, f"{entry}.{number}", name, rev, baseline, remote, message, watch, log, finish)
        if outcome.get("status") == "lost" and _current_run(client, key) in (number, None):
            # Still this entry's newest run: RQ's failure path retries it (or fails it as "worker lost").
            raise LeaseLost(f"{entry}.{number}")
        return outcome  # A later run owns the entry: RQ must not retry this one as well.
    finally:
        watch.ended()
        watch.done.set()
        watch.join(2)
        watch.client.close()


def _run(entry: str, run: str, name: str, rev: str, baseline_id: str, remote: str, message: str, watch: Watch,
         log: Callable[[str], None], finish: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Runs the entry in the mirror (`experiments/execute.py`), then pushes the experiment to the remote."""
    from pyhelper.core.experiments.execute import Hooks, Stopped, execute, failure_line
    from pyhelper.core.git.gitrepo import open_repo
    from pyhelper.core.git.refs import ExpRef
    from pyhelper.core.project import Project

    ref = str(ExpRef(baseline_id, name))
    shown = redact(remote)
    pushed: list[str] = []
    """Checkpoints of this run on the remote (pushed as each is made, so a lost machine keeps them)."""

    def push_checkpoint(text: str, tip: str | None) -> None:
        """Pushes the newest checkpoint before the stage hears it is recorded; a run whose experiment ref
        is another run's now (a later retry took over) stops its stage."""
        if tip is None or watch.lost:
            return
        try:
            publish(root, remote, ref, tip, run, final=False)
        except Superseded as exc:
            log(f"# checkpoint {text} not pushed: {redact_text(str(exc))}; stopping")
            watch.lost = True
            watch.enforce()
            return
        except XpError as exc:
            log(f"# checkpoint {text} not pushed: {redact_text(str(exc))}")
            return
        pushed.append(tip)
        log(f"# checkpoint {text} pushed to {shown}")

    hooks = Hooks(log=log, started=watch.started, ended=watch.ended, stopping=lambda: bool(watch.cancel or watch.lost),
                  checkpoint=push_checkpoint)
    try:
        root = mirror(remote, entry, rev, root=_SETTINGS.get("mirror_root") or default_mirror_root(),
                      cache_dir=_SETTINGS.get("cache_dir"))
        project = Project(root)
        commit = execute(project, open_repo(project), entry_id=entry, name=name, rev=rev, baseline=baseline_id,
                         message=message, hooks=hooks, run_id=run).commit
        if not watch.holds_lease():  # Only the lease holder records: a retry may be running this entry.
            watch.lost = True
            return finish("failed", "# lost the lease before recording", error="worker lost")
        recorded = publish(root, remote, ref, commit, run, final=True)
        if recorded != commit:
            log(f"# '{shown}' already had this result (the same tree) as {recorded[:7]}; it stands")
        _push_outputs(project, recorded, log)
        return finish("success", f"# recorded experiment '{name}' ({recorded[:7]}) on {shown}", exp_rev=recorded,
                      exit_code=0)
    except (StageFailed, Stopped) as exc:
        watch.ended()
        code = exc.returncode if isinstance(exc, StageFailed) else ""
        kept = f"; its {len(pushed)} checkpoint(s) are on {shown}" if pushed else ""
        if watch.lost:
            return finish("failed", f"# stopped: this worker lost its lease{kept}", error="worker lost")
        if watch.cancel:
            return finish("cancelled", f"# cancelled{kept}", error="cancelled", exit_code=code)
        assert isinstance(exc, StageFailed)
        return finish("failed", f"# failed: {exc.message}{kept}", error=failure_line(exc), exit_code=exc.returncode)
    except Exception as exc:  # noqa: BLE001 - anything else fails this entry, never the worker.
        first = redact_text(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        if type(exc).__name__ == "JobTimeoutException":  # RQ's job timeout, raised in this horse.
            first = f"timed out after {get_current_job_timeout()} s (job-timeout in .xp/config)"
        return finish("failed", f"# failed: {first}", error=first)


def _push_outputs(project: Project, commit: str, log: Callable[[str], None]) -> None:
    """The experiment's outputs to the project's default remote storage (`.dvc/config` or `.xpconfig`, as
    committed), so the laptop's `exp pull` fetches them without a shared --cache-dir. Not fatal: the experiment
    is recorded; its outputs stay in this worker's cache and the log says why."""
    from pyhelper.core.remotes.transfer import carry

    try:
        carried = carry(project, [commit], pushing=True, as_committed=True)
    except (XpError, OSError) as exc:
        log(f"# outputs not pushed to the remote storage: {redact_text(str(exc))}")
        return
    if carried is not None:
        where = redact_text(carried.storage.label)
        log(f"# outputs: {carried.result.moved} object(s) pushed to remote storage {where}")


def get_current_job_timeout() -> float | None:
    """The running RQ job's timeout in seconds."""
    from rq import get_current_job

    job = get_current_job()
    return job.timeout if job is not None else None


def _retrying(call: Callable[[], object], seconds: float = 60) -> None:
    """Runs a Redis write, trying again for a while when the server is away (it may be restarting)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            call()
            return
        except Exception:  # noqa: BLE001 - connection errors: the server may be back in a moment.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def on_job_failure(job: Job, connection: redis.Redis, kind: type[BaseException] | None, value: BaseException | None,
                   traceback: TracebackType | None) -> None:
    """RQ's failure callback: a job that ended without reporting (its worker was lost, it timed out or
    was stopped) is marked in its entry: queued again when RQ retries it, else failed or cancelled."""
    entry_id = (job.kwargs or {}).get("entry", job.id)
    key = entry_key(entry_id)
    status = connection.hget(key, "status")
    if status in (b"success", b"failed", b"cancelled"):
        return
    reason = getattr(kind, "__name__", str(kind))
    if reason == "LeaseLost" and str(value) != f"{entry_id}.{int(connection.hget(key, 'runs') or 0)}":
        return  # A run that lost its lease to a later one: that one owns the entry.
    if reason in ("AbandonedJobError", "LeaseLost"):
        why = "worker lost"
    elif reason == "JobTimeoutException":
        why = f"timed out after {job.timeout} s"
    else:
        why = f"{reason}: {value}"
    if int(connection.hget(key, "cancel") or 0):
        fields = {"status": "cancelled", "error": f"cancelled ({why})", "finished": time.time()}
    elif job.retries_left and why == "worker lost":
        fields = {"status": "queued", "error": "", "worker": "", "started": ""}
    else:
        fields = {"status": "failed", "error": why, "finished": time.time()}
    with connection.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=fields)
        pipe.xadd(log_key(entry_id), {"line": f"# {why}" + ("; retrying" if fields["status"] == "queued" else "")},
                  maxlen=LOG_MAXLEN, approximate=True)
        pipe.execute()
