"""The queue on RQ and Redis: entries run by `xp queue worker --backend redis://…` on any machine.

What travels where: queuing pushes each entry's commit to the shared git remote under its queue
ref (`refs/xp/queue/<id>`) and enqueues an RQ job (JSON, never pickle; always with a timeout)
that says only "run commit C from git remote R as experiment NAME". Each entry has a Redis hash
(`xp:entry:<id>`: status, worker, attempts, cancel flag, outcome) and a stream of log lines
(`xp:log:<id>`); the laptop's entries are indexed in a sorted set per remote. The experiment ref
the worker pushes is the final truth; `xp exp pull` brings it home.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pyhelper.core.credentials import has_password, redact, redis_password
from pyhelper.core.git.gitargs import git_error
from pyhelper.core.git.refs import ExpRef, check_name, queue_ref
from pyhelper.core.project import Project
from pyhelper.core.queue.backend import DEFAULT_JOB_TIMEOUT
from pyhelper.core.queue.db import Entry, Status, Worker, cancel_of, status_of
from pyhelper.core.queue.remote_job import FAILURE_CALLBACK, JOB_FUNCTION, JobPayload
from pyhelper.core.queue.store import QueueError
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import redis
    from rq import Queue

__all__ = ["FAILURE_CALLBACK", "JOB_FUNCTION", "RQ_QUEUE", "RedisQueue", "check_secured", "connect"]
RQ_QUEUE = "xp"
LOG_MAXLEN = 20000
"""Log lines kept per entry (the stream is trimmed beyond that)."""


def entry_key(entry_id: str) -> str:
    """The hash holding an entry's state."""
    return f"xp:entry:{entry_id}"


def log_key(entry_id: str) -> str:
    """The stream holding an entry's log lines."""
    return f"xp:log:{entry_id}"


def index_key(remote: str) -> str:
    """The sorted set (by queue order) of the entries queued for `remote`."""
    return f"xp:entries:{hashlib.sha1(remote.encode()).hexdigest()[:16]}"


def unreachable(url: str, exc: Exception) -> QueueError:
    """The one-line error for a Redis server that cannot be used, naming the URL and the fix."""
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if type(exc).__name__ == "AuthenticationError" or "NOAUTH" in detail or "WRONGPASS" in detail:
        return QueueError(f"Redis at {redact(url)} refused xp's credentials ({detail})",
                          hint="give its password: redis://USER:PASSWORD@HOST:PORT/DB, XP_REDIS_PASSWORD, "
                               "or --password-file PATH (see SECURITY.md)")
    return QueueError(f"cannot reach Redis at {redact(url)} ({detail})",
                      hint="start it (`redis-server --port PORT`) or fix the URL "
                           "(--backend, or `backend` in .xp/config)")


@contextmanager
def guarded(url: str) -> Iterator[None]:
    """Turns Redis connection errors into `unreachable`."""
    import redis

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise unreachable(url, exc) from None


def connect(url: str) -> redis.Redis:
    """A Redis client for `url`, checked with a PING (a dead server is reported at once)."""
    import redis

    extra = {"password": password} if (password := redis_password(url)) else {}
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10, decode_responses=False, **extra)
    with guarded(url):  # A wrong or missing password is an AuthenticationError, one of ConnectionError's.
        client.ping()
    return client


def check_secured(url: str, *, insecure: bool) -> None:
    """Refuses a Redis that took xp without a password (anyone who reaches it could queue work for every
    worker), unless the user said `--insecure`. Call after `connect` succeeded."""
    if insecure or has_password(url):
        return
    raise QueueError(f"Redis at {redact(url)} accepts clients without a password: anyone who reaches it could "
                     "queue work for every worker",
                     hint="set a password (requirepass or an ACL user) and give it as redis://USER:PASSWORD@HOST/DB, "
                          "XP_REDIS_PASSWORD or --password-file (see SECURITY.md); or pass --insecure on a machine "
                          "and network only you reach")


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


def _number(value: bytes | None) -> float | None:
    return float(value) if value not in (None, b"") else None


def entry_from_hash(fields: dict[bytes, bytes]) -> Entry:
    """An `Entry` (as the SQLite queue returns) from an entry's Redis hash."""
    get = fields.get
    code = _number(get(b"exit_code"))
    return Entry(
        id=_text(get(b"id")), seq=int(_number(get(b"seq")) or 0), name=_text(get(b"name")),
        baseline=_text(get(b"baseline")), rev=_text(get(b"rev")),
        params=tuple(json.loads(_text(get(b"params")) or "[]")),
        message=_text(get(b"message")), status=status_of(_text(get(b"status"))),
        created=_number(get(b"created")) or 0.0,
        started=_number(get(b"started")), finished=_number(get(b"finished")), worker=_text(get(b"worker")) or None,
        attempts=int(_number(get(b"attempts")) or 0), retries=int(_number(get(b"retries")) or 0),
        cancel=cancel_of(int(_number(get(b"cancel")) or 0)), exit_code=int(code) if code is not None else None,
        error=_text(get(b"error")), exp_rev=_text(get(b"exp_rev")) or None)


def job_payload(item: dict[str, Any]) -> JobPayload:
    """The RQ job's payload of a queue entry, checked as every worker checks it (BadInput naming the entry)."""
    from pyhelper.core.queue.remote_job import ForeignJob

    payload = JobPayload(item["id"], item["name"], item["rev"], item["baseline"], tuple(item["params"]),
                         item.get("message", ""), item.get("retries", 0))
    try:
        return JobPayload.from_kwargs(payload.kwargs(""))
    except ForeignJob as exc:
        raise BadInput(f"queue entry '{item['name']}' cannot go to Redis: {exc}",
                       hint="shorten the name, message or -S values (limits in SECURITY.md)") from None


def git_push(cwd: str, remote: str, refspecs: list[str]) -> subprocess.CompletedProcess[str]:
    """`git push --porcelain REMOTE REFSPEC…` (never forced), with no prompt for credentials."""
    from pyhelper.core.git.gitargs import check_refname, check_remote, git_argv, git_env

    for spec in refspecs:  # Each names a queue ref: the ids in them come from Redis or a remote's refs.
        check_refname(spec.rsplit(":", 1)[1], what="queue ref")
    env = git_env()
    return subprocess.run(git_argv("push", "--porcelain", "--", check_remote(remote), *refspecs), cwd=cwd,
                          capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL)


class RedisQueue:
    """The queue of one project (or of a worker, without one) on a Redis server."""

    def __init__(self, url: str, *, remote: str | None = None, project: Project | None = None,
                 job_timeout: int = DEFAULT_JOB_TIMEOUT):
        self.url = url
        self.job_timeout = job_timeout
        self.remote = remote
        self.project = project
        self.redis = connect(url)

    def close(self) -> None:
        """Closes the connection."""
        self.redis.close()

    def rq_queue(self) -> Queue:
        """The RQ queue entries are enqueued on (JSON serializer)."""
        from rq import Queue
        from rq.serializers import JSONSerializer

        return Queue(RQ_QUEUE, connection=self.redis, serializer=JSONSerializer)

    # -- queuing -----------------------------------------------------------------------------
    def add(self, items: list[dict[str, Any]]) -> list[Entry]:
        """Pushes the entries' commits to the remote, then records and enqueues them (all or nothing)."""
        assert self.project is not None and self.remote is not None
        for item in items:  # Every job must pass the workers' check: found here, before anything is pushed.
            job_payload(item)
        refspecs = [f"{item['rev']}:{queue_ref(item['id'])}" for item in items]
        pushed = git_push(str(self.project.root), self.remote, refspecs)
        if pushed.returncode != 0:
            self._forget_local_refs(items)
            raise QueueError(f"pushing the queued commits to '{self.remote}' failed: {git_error(pushed)}",
                             hint="check the remote (`remote` in .xp/config or --remote) and your access to it")
        now = time.time()
        queue = self.rq_queue()
        with guarded(self.url):
            seq = self.redis.incrby("xp:seq", len(items)) - len(items)
            with self.redis.pipeline() as pipe:
                for offset, item in enumerate(items, 1):
                    fields = {"id": item["id"], "seq": seq + offset, "name": item["name"], "baseline": item["baseline"],
                              "rev": item["rev"], "params": json.dumps(list(item["params"])),
                              "message": item.get("message", ""), "status": "queued", "created": now,
                              "attempts": 0, "retries": item.get("retries", 0), "cancel": 0,
                              "remote": redact(self.remote)}
                    pipe.hset(entry_key(item["id"]), mapping=fields)
                    pipe.zadd(index_key(self.remote), {item["id"]: seq + offset})
                pipe.execute()
            for item in items:
                self._enqueue_job(queue, item, item["id"])
        return [self.get(item["id"]) for item in items]

    def restore(self, items: list[dict[str, Any]]) -> list[Entry]:
        """Re-adds entries rebuilt from git (`xp queue recover`): as `add`, plus their created time, status,
        experiment and run counter; queued ones get a new RQ job (their commits pushed first, if only here)."""
        assert self.project is not None and self.remote is not None
        todo = [item for item in items if item["status"] == "queued"]
        if todo:
            pushed = git_push(str(self.project.root), self.remote, [f"{i['rev']}:{queue_ref(i['id'])}" for i in todo])
            if pushed.returncode != 0:
                raise QueueError(f"pushing the queued commits to '{self.remote}' failed: {git_error(pushed)}",
                                 hint="check the remote (`remote` in .xp/config) and your access to it")
        queue = self.rq_queue()
        with guarded(self.url):
            seq = self.redis.incrby("xp:seq", len(items)) - len(items)
            with self.redis.pipeline() as pipe:
                for offset, item in enumerate(items, 1):
                    done = item["status"] != "queued"
                    fields = {"id": item["id"], "seq": seq + offset, "name": item["name"], "baseline": item["baseline"],
                              "rev": item["rev"], "params": json.dumps(list(item["params"])),
                              "message": item.get("message", ""), "status": item["status"], "created": item["created"],
                              "finished": item["created"] if done else "", "exp_rev": item.get("exp_rev") or "",
                              "attempts": 0, "runs": item.get("runs", 0), "retries": item.get("retries", 0),
                              "cancel": 0, "remote": redact(self.remote)}
                    pipe.hset(entry_key(item["id"]), mapping=fields)
                    pipe.zadd(index_key(self.remote), {item["id"]: seq + offset})
                    pipe.xadd(log_key(item["id"]), {"line": "# recovered from git"}, maxlen=LOG_MAXLEN,
                              approximate=True)
                pipe.execute()
            for item in todo:
                self._enqueue_job(queue, item, f"{item['id']}-r{seq}")
        return [self.get(item["id"]) for item in items]

    def _enqueue_job(self, queue: Queue, item: dict[str, Any], job_id: str) -> None:
        """Enqueues the RQ job of an entry: JSON only, always with a timeout, retried by RQ if its worker is lost."""
        from rq import Callback, Retry

        assert self.remote is not None
        payload = job_payload(item).kwargs(redact(self.remote))
        retries = item.get("retries", 0)
        self.redis.hset(entry_key(item["id"]), "job", job_id)
        queue.enqueue(JOB_FUNCTION, kwargs=payload, job_id=job_id, job_timeout=self.job_timeout,
                      retry=Retry(max=retries) if retries else None, on_failure=Callback(FAILURE_CALLBACK),
                      description=f"xp experiment {item['name']}")

    def retry(self, entry_ids: list[str]) -> list[Entry]:
        """Queues finished entries again (same commit, same params; at the end of the queue, retries renewed)."""
        assert self.remote is not None
        queue = self.rq_queue()
        out = []
        with guarded(self.url):
            for entry_id in entry_ids:
                entry = self.get(entry_id)
                if entry.status not in ("success", "failed", "cancelled"):
                    continue
                seq = self.redis.incr("xp:seq")
                self.redis.hset(entry_key(entry_id), mapping={
                    "status": "queued", "seq": seq, "attempts": 0, "cancel": 0, "error": "", "exit_code": "",
                    "exp_rev": "", "started": "", "finished": "", "worker": ""})
                self.redis.zadd(index_key(self.remote), {entry_id: seq})
                item = {"id": entry.id, "name": entry.name, "rev": entry.rev, "baseline": entry.baseline,
                        "params": entry.params, "message": entry.message, "retries": entry.retries}
                self._enqueue_job(queue, item, f"{entry_id}-{seq}")
                out.append(self.get(entry_id))
        return out

    def _forget_local_refs(self, items: list[dict[str, Any]]) -> None:
        """Deletes the local queue refs of entries that were not queued after all."""
        from pyhelper.core.git.gitrepo import open_repo

        assert self.project is not None  # Entries are queued only from a project.
        repo = open_repo(self.project)
        for item in items:
            ref = queue_ref(item["id"])
            if ref in repo.references:
                repo.references.delete(ref)

    # -- reading -----------------------------------------------------------------------------
    def ids(self) -> list[str]:
        """Ids of the project's entries, in queue order."""
        assert self.remote is not None
        with guarded(self.url):
            return [i.decode() for i in self.redis.zrange(index_key(self.remote), 0, -1)]

    def entries(self, statuses: tuple[Status, ...] | None = None) -> list[Entry]:
        """The project's entries (with these statuses), in queue order."""
        ids = self.ids()
        with guarded(self.url), self.redis.pipeline() as pipe:
            for entry_id in ids:
                pipe.hgetall(entry_key(entry_id))
            rows = pipe.execute()
        found = [entry_from_hash(row) for row in rows if row]
        return [e for e in found if statuses is None or e.status in statuses]

    def get(self, entry_id: str) -> Entry:
        """One entry by id."""
        with guarded(self.url):
            row = self.redis.hgetall(entry_key(entry_id))
        if not row:
            raise BadInput(f"no queue entry has the id '{entry_id}'", hint="see `xp queue status`")
        return entry_from_hash(row)

    def find(self, spec: str) -> Entry:
        """The entry named `spec` (the newest of that name), or whose id starts with it."""
        entries = self.entries()
        named = [e for e in entries if e.name == spec] or (
            [e for e in entries if e.id.startswith(spec)] if len(spec) >= 4 else [])
        if not named:
            from pyhelper.errors import did_you_mean

            raise BadInput(f"no queue entry named '{spec}'",
                           hint=did_you_mean(spec, [e.name for e in entries]) or "see `xp queue status`")
        return named[-1]

    def names(self) -> set[str]:
        """Names of entries that are not finished."""
        return {e.name for e in self.entries(("queued", "running"))}

    def workers(self) -> list[Worker]:
        """The live RQ workers listening on xp's queue."""
        from rq import Worker as RqWorker

        with guarded(self.url):
            found = RqWorker.all(connection=self.redis, queue=self.rq_queue())
            out = []
            for w in found:
                started = w.birth_date.timestamp() if w.birth_date else 0.0
                beat = w.last_heartbeat.timestamp() if w.last_heartbeat else started
                out.append(Worker(w.name, w.pid or 0, w.hostname or "?", started, beat, w.get_current_job_id(), 0))
        return out

    def log_lines(self, entry_id: str, after: str = "0-0", block_ms: int | None = None) -> tuple[list[str], str]:
        """Log lines of an entry after stream id `after` (waiting up to `block_ms`); the lines and the last id."""
        with guarded(self.url):
            got = self.redis.xread({log_key(entry_id): after}, block=block_ms, count=1000)
        lines = []
        for _, items in got or []:
            for item_id, fields in items:
                lines.append(_text(fields.get(b"line")))
                after = item_id.decode()
        return lines, after

    def read_log(self, entry_id: str, offset: int, limit: int = 1 << 20) -> bytes:
        """The entry's log as bytes (its lines, each ending in a newline) from byte `offset` on, at most `limit`."""
        with guarded(self.url):
            items = self.redis.xrange(log_key(entry_id))
        data = b"".join(fields.get(b"line", b"") + b"\n" for _, fields in items)
        return data[offset:offset + limit]

    # -- changing ----------------------------------------------------------------------------
    def request_cancel(self, entry_ids: list[str], *, force: bool = False) -> list[str]:
        """Cancels queued entries (their RQ jobs too) and flags running ones for their worker to stop."""
        from rq.job import Job
        from rq.serializers import JSONSerializer

        done = []
        with guarded(self.url):
            for entry_id in entry_ids:
                status = _text(self.redis.hget(entry_key(entry_id), "status"))
                if status == "queued":
                    try:
                        job_id = _text(self.redis.hget(entry_key(entry_id), "job")) or entry_id
                        Job.fetch(job_id, connection=self.redis, serializer=JSONSerializer).cancel()
                    except Exception:  # noqa: BLE001 - the job may have expired or be gone already.
                        pass
                    self.redis.hset(entry_key(entry_id), mapping={"status": "cancelled", "finished": time.time(),
                                                                  "error": "cancelled"})
                    done.append(entry_id)
                elif status == "running":
                    self.redis.hset(entry_key(entry_id), "cancel", 2 if force else 1)
                    done.append(entry_id)
        return done

    def hard_stop(self, entry_id: str) -> None:
        """RQ's stop-job command (kills the job's process) and the entry marked cancelled: the last resort."""
        from rq.command import send_stop_job_command

        with guarded(self.url):
            with contextlib.suppress(Exception):  # The job ended meanwhile: nothing to stop.
                send_stop_job_command(self.redis, _text(self.redis.hget(entry_key(entry_id), "job")) or entry_id)
            self.redis.hset(entry_key(entry_id), mapping={"status": "cancelled", "finished": time.time(),
                                                          "error": "cancelled (stopped by RQ)"})

    def remove(self, entry_ids: list[str]) -> list[str]:
        """Deletes entries that are not running (hash, log stream, index)."""
        assert self.remote is not None
        removed = []
        with guarded(self.url):
            for entry_id in entry_ids:
                if _text(self.redis.hget(entry_key(entry_id), "status")) == "running":
                    continue
                self.request_cancel([entry_id])
                self.redis.delete(entry_key(entry_id), log_key(entry_id))
                self.redis.zrem(index_key(self.remote), entry_id)
                removed.append(entry_id)
        if removed and self.project is not None:  # Their queued commits go too, here and on the remote.
            self._forget_local_refs([{"id": entry_id} for entry_id in removed])
            git_push(str(self.project.root), self.remote, [f":{queue_ref(entry_id)}" for entry_id in removed])
        return removed


def bring_home(project: Project, remote: str, entries: list[Entry]) -> list[str]:
    """Fetches the experiment refs of finished entries that this repository does not have yet (never
    forced: a local experiment of the same name stays), with their outputs from the shared cache dir;
    returns the names fetched."""
    from pyhelper.core.git.gitrepo import open_repo

    done = [e for e in entries if e.status == "success" and e.exp_rev and _plausible(e)]
    if not done:
        return []
    repo = open_repo(project)
    missing = [e for e in done if str(ExpRef(e.baseline, e.name)) not in repo.references]
    if not missing:
        return []
    from pyhelper.core.git.gitargs import check_remote, git_argv, git_env, valid_refname

    env = git_env()
    refs = [str(ExpRef(e.baseline, e.name)) for e in missing]
    refspecs = [f"{ref}:{ref}" for ref in refs if valid_refname(ref)]
    if not refspecs:
        return []
    result = subprocess.run(git_argv("fetch", "-q", "--no-tags", "--", check_remote(remote), *refspecs),
                            cwd=project.root, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        return []  # Not fatal: `xp exp pull` says why.
    from pyhelper.core.queue.remote_outputs import outputs_home

    # Their outputs too, from the shared cache dir, so that `xp exp apply` restores them. A failure is not
    # fatal: `xp exp pull` copies them again, and says why it cannot.
    with contextlib.suppress(OSError):
        outputs_home(project, [e.exp_rev for e in missing if e.exp_rev])
    from pyhelper.core.remotes.transfer import carry
    from pyhelper.errors import XpError

    with contextlib.suppress(OSError, XpError):  # And from the project's remote storage, where workers push them.
        carry(project, [e.exp_rev for e in missing if e.exp_rev], pushing=False)
    return [e.name for e in missing]


def _plausible(entry: Entry) -> bool:
    """True when an entry read from Redis (which any client may write) names a real baseline and a valid name:
    only then do its values reach git, inside a refspec."""
    from pyhelper.core.git.refs import _SHA

    try:
        check_name(entry.name)
    except BadInput:
        return False
    return bool(_SHA.fullmatch(entry.baseline)) and bool(_SHA.fullmatch(entry.exp_rev or ""))


def configured_entries(project: Project) -> list[Entry] | None:
    """The entries of the project's Redis queue, or None when `.xp/config` does not select one."""
    from pyhelper.core.queue.backend import redis_queue

    queue = redis_queue(project)
    if queue is None:
        return None
    try:
        return queue.entries()
    finally:
        queue.close()
