"""Which queue a project uses: the embedded SQLite one (default) or RQ on Redis, and the interface both offer.

The choice lives in `.xp/config` (machine-local, like the rest of `.xp/`), an INI file:

    [queue]
    backend = redis://127.0.0.1:6379/0   # or "sqlite" (the default when the file or key is missing)
    remote = /srv/git/project.git        # the shared git remote experiments travel through
    cache-dir = /srv/xp-cache            # optional: the shared output cache workers write to
    job-timeout = 86400                  # optional: seconds a run may take before RQ stops it (default 24 h)
    insecure = yes                       # optional: the user accepted a Redis that needs no password

`xp queue start --backend redis://HOST:PORT/DB --remote URL` writes it, mode 0600 (the URL may hold a
password: `redis://USER:PASSWORD@HOST/DB`, or `rediss://…?ssl_ca_certs=CA` for TLS). Reading it imports
neither Redis nor RQ, so the SQLite queue costs nothing extra.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pyhelper.core.project import Project
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    from pyhelper.core.queue.redis_backend import RedisQueue

SQLITE = "sqlite"
DEFAULT_JOB_TIMEOUT = 24 * 3600
"""Seconds an RQ job may run before RQ stops it (a generous default; every job gets one)."""


@dataclass(frozen=True)
class QueueConfig:
    """The `[queue]` section of `.xp/config`."""

    backend: str = SQLITE
    remote: str | None = None
    cache_dir: str | None = None
    job_timeout: int = DEFAULT_JOB_TIMEOUT
    insecure: bool = False
    """The user accepted a Redis that needs no password (`--insecure`)."""

    @property
    def is_redis(self) -> bool:
        """True when entries go to RQ on Redis."""
        return self.backend != SQLITE


class QueueBackend(Protocol):
    """What enqueuing and the queue commands need from a queue (QueueDb and RedisQueue both offer it)."""

    def add(self, items: list[dict[str, Any]]) -> list[Any]:
        """Adds entries (dicts with id, name, baseline, rev, params, message, retries) in order."""

    def names(self) -> set[str]:
        """Names of entries that are not finished."""

    def find(self, spec: str) -> Any:
        """The entry named `spec` (or whose id starts with it)."""

    def request_cancel(self, entry_ids: list[str], *, force: bool) -> list[str]:
        """Cancels queued entries and asks running ones to stop."""

    def close(self) -> None:
        """Releases the connection."""


def check_backend(url: str) -> str:
    """`url` when it names a backend xp knows (sqlite, redis://HOST[:PORT][/DB]); else BadInput with the fix."""
    if url == SQLITE:
        return url
    parts = urlsplit(url)
    db = parts.path.strip("/")
    if parts.scheme not in ("redis", "rediss") or not parts.hostname or (db and not db.isdigit()):
        from pyhelper.core.credentials import redact

        raise BadInput(f"'{redact(url)}' is not a queue backend",
                       hint="use redis://HOST:PORT/DB (e.g. redis://127.0.0.1:6379/0) or sqlite")
    try:
        _ = parts.port  # urllib checks the port only when it is read.
    except ValueError:
        raise BadInput("the queue backend's URL has a bad port",
                       hint="use redis://HOST:PORT/DB with a numeric port") from None
    return url


def config_path(project: Project) -> Path:
    """`.xp/config` of the user's workspace."""
    return project.xp_dir / "config"


def read_config(project: Project) -> QueueConfig:
    """The queue configuration of `project` (the defaults when there is none)."""
    path = config_path(project)
    if not path.is_file():
        return QueueConfig()
    parser = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise BadInput(f"{path} cannot be read: {first}",
                       hint="fix it: a [queue] section with backend = redis://HOST:PORT/DB and remote = URL") from None
    if not parser.has_section("queue"):
        return QueueConfig()
    section = parser["queue"]
    unknown = sorted(set(section) - {"backend", "remote", "cache-dir", "job-timeout", "insecure"})
    if unknown:
        raise BadInput(f"{path}: unknown key '{unknown[0]}' in [queue]",
                       hint="the keys are backend, remote, cache-dir, job-timeout, insecure")
    insecure = section.get("insecure", "no").strip().lower()
    if insecure not in ("yes", "no", "true", "false"):
        raise BadInput(f"{path}: insecure must be yes or no, not '{insecure}'", hint="e.g. insecure = no")
    timeout = section.get("job-timeout", "").strip() or str(DEFAULT_JOB_TIMEOUT)
    if not timeout.isdigit() or int(timeout) < 1:
        raise BadInput(f"{path}: job-timeout must be a whole number of seconds ≥ 1, not '{timeout}'",
                       hint=f"e.g. job-timeout = {DEFAULT_JOB_TIMEOUT} (24 h)")
    backend = check_backend(section.get("backend", SQLITE).strip() or SQLITE)
    remote = section.get("remote", "").strip() or None
    if remote is not None:
        from pyhelper.core.git.gitargs import check_remote

        try:
            check_remote(remote, what="queue's remote")
        except BadInput as exc:
            raise BadInput(f"{path}: {exc.message}", hint=exc.hint) from None
    if backend != SQLITE and remote is None:
        raise BadInput(f"{path}: [queue] backend is {backend} but no remote is set",
                       hint="add `remote = URL` (the shared git remote), or run "
                            "`xp queue start --backend URL --remote URL`")
    return QueueConfig(backend, remote, section.get("cache-dir", "").strip() or None, int(timeout),
                       insecure in ("yes", "true"))


def write_config(project: Project, config: QueueConfig) -> None:
    """Writes the `[queue]` section of `.xp/config` (other sections are kept)."""
    path = config_path(project)
    project.ensure_xp_dir()
    parser = configparser.ConfigParser()
    if path.is_file():
        parser.read(path, encoding="utf-8")
    parser["queue"] = {"backend": config.backend}
    if config.remote:
        parser["queue"]["remote"] = config.remote
    if config.cache_dir:
        parser["queue"]["cache-dir"] = config.cache_dir
    if config.job_timeout != DEFAULT_JOB_TIMEOUT:
        parser["queue"]["job-timeout"] = str(config.job_timeout)
    if config.insecure:
        parser["queue"]["insecure"] = "yes"
    tmp = path.with_suffix(".tmp")
    # Private from the start (0600): the backend URL or the remote may carry a password or a token.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        parser.write(handle)
    tmp.replace(path)


def open_backend(project: Project) -> QueueBackend:
    """The queue `project` is configured to use."""
    config = read_config(project)
    if config.is_redis:
        from pyhelper.core.queue.redis_backend import RedisQueue

        return RedisQueue(config.backend, remote=config.remote, project=project, job_timeout=config.job_timeout)
    from pyhelper.core.queue.db import QueueDb

    return QueueDb(project)


def redis_queue(project: Project) -> RedisQueue | None:
    """The project's queue on Redis (a `RedisQueue`, to be closed) when `.xp/config` selects one, else None.

    Neither Redis nor RQ is imported when the project has no `.xp/config`."""
    if not config_path(project).is_file():
        return None
    config = read_config(project)
    if not config.is_redis:
        return None
    from pyhelper.core.queue.redis_backend import RedisQueue

    return RedisQueue(config.backend, remote=config.remote, project=project, job_timeout=config.job_timeout)
