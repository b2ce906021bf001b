"""The watchdog thread of a remote run's work horse: cancel requests, a dead worker, RQ's lease.

It looks at Redis every 0.3 s with a client of its own that gives up at once (redis-py's default
retries with backoff would keep a look blocked for seconds, past the moment a stage must stop).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import TYPE_CHECKING

from pyhelper.core.credentials import redis_password
from pyhelper.core.queue.redis_backend import entry_key

if TYPE_CHECKING:
    from rq.job import Job

LEASE_SECONDS = 8
"""A running job's heartbeat lasts this long: a killed worker's job is retried after about this."""
KILL_GRACE_SECONDS = 5.0
"""How long a cancelled stage has after SIGTERM before SIGKILL."""
LEASE_MARGIN = 3.0
"""A run whose lease was not seen renewed until this many seconds before it lapses stops its stage."""


class Watch(threading.Thread):
    """Carries out cancel requests, the death of the worker above this horse, and the loss of the job's lease.

    The lease is RQ's: the job's score in the started-job registry, which the worker renews every
    second to LEASE_SECONDS ahead. Once it lapses, any worker's maintenance may fail the job as
    abandoned and RQ retries it elsewhere; so when the lease could not be seen renewed until
    LEASE_MARGIN seconds before it lapses (Redis or the network gone), the stage is stopped
    (SIGTERM, SIGKILL a second later) and this run records nothing.
    """

    def __init__(self, url: str, entry_id: str, job: Job | None, execution: str | None = None):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        super().__init__(daemon=True)
        extra = {"password": password} if (password := redis_password(url)) else {}
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0),
                                           **extra)
        self.entry_id = entry_id
        self.job_id = job.id if job is not None else ""
        self.registry = job.started_job_registry.key if job is not None else ""
        self.execution = execution
        """RQ's `<job>:<execution>` member of the started-job registry this run's lease is (None: any of the job's)."""
        self.parent = os.getppid()
        self.pgid: int | None = None
        self.cancel = 0
        self.signalled_at: float | None = None
        self.lease_until = time.time() + LEASE_SECONDS - 1
        """When the job's lease lapses (epoch seconds), as last read from Redis; until then, as the worker
        set it just before forking this horse (Redis may be gone before the first look)."""
        self.seen = False
        """The lease was read from Redis at least once."""
        self.lost = False
        """The lease lapsed (or is about to) without being renewed: this run must record nothing."""
        self.done = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.done.wait(0.3):
            if os.getppid() != self.parent:  # Our worker was killed: nobody would record this run.
                self._signal(signal.SIGKILL)
                os._exit(137)
            self.look()
            self.enforce()

    def look(self) -> bool:
        """Reads the cancel flag and the lease from Redis; False when Redis cannot be reached."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hget(entry_key(self.entry_id), "cancel")
                pipe.zrange(self.registry, 0, -1, withscores=True)
                flag, leases = pipe.execute()
        except Exception:  # noqa: BLE001 - Redis away for a moment: the lease decides how long that may last.
            return False
        self.cancel = max(self.cancel, int(flag or 0))
        ours = [score for member, score in leases if member.decode() == self.execution
                or (self.execution is None and member.decode().startswith(f"{self.job_id}:"))]
        if ours:
            self.lease_until, self.seen = max(ours), True
        elif self.seen:  # It was ours and is gone: RQ gave the job up (or to another worker).
            self.lease_until = 0.0
        return True

    def holds_lease(self, wait: bool = True) -> bool:
        """True when Redis confirms the lease is ours and not about to lapse (asked again until it is too
        late, when Redis does not answer at once)."""
        while not self.lost:
            if self.look():
                return self.lease_until - time.time() > LEASE_MARGIN
            if not wait or self.lease_until - time.time() <= LEASE_MARGIN:
                break
            time.sleep(0.3)
        return False

    def enforce(self) -> None:
        """Signals the stage's group as the cancel request (SIGKILL after the grace) or a lost lease asks."""
        with self.lock:
            now = time.monotonic()
            if not self.lost and self.lease_until - time.time() <= LEASE_MARGIN:
                self.lost = True
            if self.pgid is None or not (self.cancel or self.lost):
                return
            grace = 1.0 if self.lost else KILL_GRACE_SECONDS
            if self.cancel >= 2 or (self.signalled_at is not None and now - self.signalled_at >= grace):
                self._signal(signal.SIGKILL)
            elif self.signalled_at is None:
                self.signalled_at = now
                self._signal(signal.SIGTERM)

    def started(self, pgid: int) -> None:
        """A stage's command started, leading process group `pgid` (noted in the entry, for the worker to kill)."""
        with self.lock:
            self.pgid, self.signalled_at = pgid, None
        with contextlib.suppress(Exception):  # Only needed if the horse is killed; the run goes on.
            self.client.hset(entry_key(self.entry_id), "pgid", pgid)
        self.enforce()

    def ended(self) -> None:
        """No command runs now; whatever is left of its group is killed."""
        with self.lock:
            pgid, self.pgid, self.signalled_at = self.pgid, None, None
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, sig)
