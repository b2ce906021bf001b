"""The one job a remote worker runs, and the check every job read from Redis passes first.

Redis is shared: any client that reaches it can write a job into xp's RQ queue, naming any Python
function (`os.system`) with any arguments, or callbacks RQ would import and call. RQ itself runs
whatever a job names. A worker therefore runs jobs through `XpJob`, whose function and callbacks
resolve to xp's own or to nothing, and only after the payload passed `JobPayload.from_job`: every
field present, of its type, in its bounds, nothing else. A refused job fails in RQ's registry with
the reason; no entry is touched and no git command runs.

A job says only "run commit REV (a queue entry's commit) as experiment NAME on baseline BASELINE";
the remote it runs from is the worker's own `--remote`, never a value from the job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pyhelper.core.git.refs import _BAD_NAME

if TYPE_CHECKING:
    from rq.job import Job

JOB_FUNCTION = "pyhelper.core.queue.remote_worker.run_job"
FAILURE_CALLBACK = "pyhelper.core.queue.remote_worker.on_job_failure"

MAX_NAME = 100
"""Characters in an experiment name (one git ref component; far below git's limits)."""
MAX_PARAMS = 1000
"""-S values one entry may carry (they are only shown in its log)."""
MAX_PARAM = 4096
"""Characters in one -S value."""
MAX_MESSAGE = 65536
"""Characters in an experiment's commit message."""
MAX_RETRIES = 100
"""Retries one entry may ask for."""

_ENTRY = re.compile(r"[0-9a-f]{12}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FIELDS = frozenset({"entry", "name", "rev", "baseline", "params", "message", "retries", "remote"})


class ForeignJob(Exception):
    """A job xp did not write (or wrote differently): refused before anything runs; the text says why."""


@dataclass(frozen=True)
class JobPayload:
    """The fields of xp's job, checked."""

    entry: str
    """The queue entry's id (12 hex digits)."""
    name: str
    """The experiment's name (one git ref component)."""
    rev: str
    """The entry's commit (full hex id), fetched from the worker's remote under refs/xp/queue/<entry>."""
    baseline: str
    """The baseline commit (full hex id): the experiment's first parent."""
    params: tuple[str, ...] = ()
    """The -S values, for the log."""
    message: str = ""
    """The experiment commit's message ("" for xp's default)."""
    retries: int = 0
    """How often RQ retries the job when its worker is lost."""

    def kwargs(self, remote: str) -> dict[str, Any]:
        """The job's keyword arguments as enqueued (`remote` is shown to people, never used by workers)."""
        return {"entry": self.entry, "name": self.name, "rev": self.rev, "baseline": self.baseline,
                "remote": remote, "params": list(self.params), "message": self.message, "retries": self.retries}

    @classmethod
    def from_kwargs(cls, kwargs: Any) -> JobPayload:
        """The payload of a job's keyword arguments, or ForeignJob naming the first bad field."""
        if not isinstance(kwargs, dict):
            raise ForeignJob("its arguments are not a mapping")
        unknown = sorted(str(key)[:40] for key in kwargs if key not in _FIELDS)
        if unknown:
            raise ForeignJob(f"unknown field {unknown[0]!r}")
        entry = _text(kwargs, "entry", 12)
        if not _ENTRY.fullmatch(entry):
            raise ForeignJob("'entry' is not a queue entry id (12 hex digits)")
        name = _text(kwargs, "name", MAX_NAME)
        if not name or _BAD_NAME.search(name) or name == "@":
            raise ForeignJob("'name' is not a valid experiment name")
        rev, baseline = _text(kwargs, "rev", 64), _text(kwargs, "baseline", 64)
        if not _COMMIT.fullmatch(rev) or not _COMMIT.fullmatch(baseline):
            raise ForeignJob("'rev' and 'baseline' must be full commit ids")
        _text(kwargs, "remote", 4096, required=False)
        params = kwargs.get("params", [])
        if not isinstance(params, list) or len(params) > MAX_PARAMS or not all(
                isinstance(p, str) and len(p) <= MAX_PARAM and not _CONTROL.search(p) for p in params):
            raise ForeignJob(f"'params' must be a list of at most {MAX_PARAMS} short strings")
        message = _text(kwargs, "message", MAX_MESSAGE, required=False, multiline=True)
        retries = kwargs.get("retries", 0)
        if type(retries) is not int or not 0 <= retries <= MAX_RETRIES:
            raise ForeignJob(f"'retries' must be a whole number from 0 to {MAX_RETRIES}")
        return cls(entry, name, rev, baseline, tuple(params), message, retries)

    @classmethod
    def from_job(cls, job: Job) -> JobPayload:
        """The payload of an RQ job, when the job is xp's own in every respect; else ForeignJob."""
        if job.func_name != JOB_FUNCTION:
            raise ForeignJob(f"it names the function {str(job.func_name)[:80]!r}, not xp's")
        if job.instance is not None or job.args:
            raise ForeignJob("it carries positional arguments or an instance")
        names = (job._success_callback_name, job._failure_callback_name, job._stopped_callback_name)
        if names[0] or names[2] or names[1] not in (None, FAILURE_CALLBACK):
            raise ForeignJob("it names callbacks that are not xp's")
        return cls.from_kwargs(job.kwargs)


def _text(kwargs: dict[str, Any], key: str, limit: int, *, required: bool = True, multiline: bool = False) -> str:
    """A string field, bounded and free of control characters (tab and newline allowed when `multiline`)."""
    value = kwargs.get(key, None if required else "")
    if not isinstance(value, str):
        raise ForeignJob(f"'{key}' is missing or not a string")
    if len(value) > limit:
        raise ForeignJob(f"'{key}' is longer than {limit} characters")
    if (_CONTROL if multiline else re.compile(r"[\x00-\x1f\x7f]")).search(value):
        raise ForeignJob(f"'{key}' holds control characters")
    return value


@cache
def job_class() -> type:
    """`XpJob`: RQ's job class, except that its function and callbacks can only be xp's (built on first use, so
    that reading the limits above does not import RQ)."""
    from rq.job import Job

    class XpJob(Job):
        """RQ's job, except that its function and callbacks can only be xp's: a foreign job's function is one
        that raises ForeignJob (so RQ records the failure), its callbacks none, and it is never retried."""

        def refusal(self) -> str | None:
            """Why this job is not xp's, or None."""
            try:
                JobPayload.from_job(self)
            except ForeignJob as exc:
                return str(exc)
            except Exception as exc:  # noqa: BLE001 - a payload that is not JSON (pickle) or not RQ's shape.
                return f"its payload cannot be read as xp's JSON ({type(exc).__name__})"
            return None

        @property
        def func(self) -> Callable[..., Any]:  # noqa: D102 - RQ's: imports the job's function by name; here only xp's.
            reason = self.refusal()
            if reason is not None:
                def refused(*_args: Any, **_kwargs: Any) -> None:
                    raise ForeignJob(f"refused job {self.id}: {reason}")
                return refused
            from pyhelper.core.queue.remote_worker import run_job

            return run_job

        @property
        def success_callback(self) -> None:  # noqa: D102 - xp's jobs have none.
            return None

        @property
        def stopped_callback(self) -> None:  # noqa: D102 - xp's jobs have none.
            return None

        @property
        def failure_callback(self) -> Callable[..., Any] | None:  # noqa: D102 - only xp's own, and only for xp's own jobs.
            if self.refusal() is not None or self._failure_callback_name != FAILURE_CALLBACK:
                return None
            from pyhelper.core.queue.remote_worker import on_job_failure

            return on_job_failure

        @property
        def should_retry(self) -> bool:  # noqa: D102 - a refused job is never tried again.
            return self.refusal() is None and bool(super().should_retry)

    return XpJob
