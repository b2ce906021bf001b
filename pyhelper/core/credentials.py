"""Secrets in URLs: where a Redis password comes from, and how every URL is shown without its secrets.

A Redis password or a git remote's token (`https://user:TOKEN@host/…`) must never be shown or
logged: not by `queue start`/`status`/`logs`, not in a worker's argv (other users see it in `ps`),
not in a Redis entry or job (every Redis client reads them). xp shows every URL through `redact`
and hands secrets to the processes it starts through the environment.

A Redis password is taken, first found, from the URL (`redis://user:PASSWORD@host:port/db`), the
environment (`XP_REDIS_PASSWORD`, like redis-cli's `REDISCLI_AUTH`), or a file named by
`XP_REDIS_PASSWORD_FILE` (its first line; `xp queue worker --password-file PATH` sets it).
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pyhelper.errors import BadInput

PASSWORD_ENV = "XP_REDIS_PASSWORD"
PASSWORD_FILE_ENV = "XP_REDIS_PASSWORD_FILE"
_SECRET_QUERY = re.compile(r"pass|token|secret|key$|signature|credential", re.IGNORECASE)
_USERINFO = re.compile(r"(?<=://)([^/@\s]*?):([^/@\s]*)@")


def redact(url: str) -> str:
    """`url` with the password of its user info and the values of secret-looking query keys as `***`.

    Works on URLs (`https://user:tok@host/x`, `redis://:pw@host/0?password=pw`) and leaves anything else
    (a path, scp-like `git@host:repo`) unchanged."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:***@", url)
    if "?" not in text or "://" not in text:
        return text
    parts = urlsplit(text)
    query = [(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*/:")))


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """A message (git's stderr, a log line) with user-info passwords in URLs and the given secrets as `***`."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}:***@", text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def redis_password(url: str) -> str | None:
    """The Redis password for `url`: its own, else XP_REDIS_PASSWORD, else XP_REDIS_PASSWORD_FILE's first line."""
    own = urlsplit(url).password
    if own:
        return None  # redis-py takes it from the URL itself.
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    path = os.environ.get(PASSWORD_FILE_ENV)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().strip()
    except OSError as exc:
        raise BadInput(f"cannot read the Redis password file {path}: {exc.strerror}",
                       hint=f"point {PASSWORD_FILE_ENV} (or --password-file) at a readable file whose "
                            "first line is the password") from None
    if not first:
        raise BadInput(f"the Redis password file {path} is empty", hint="put the password on its first line")
    return first


def has_password(url: str) -> bool:
    """True when a password for `url` is given anywhere xp looks."""
    return bool(urlsplit(url).password) or redis_password(url) is not None


def secret_in(url: str) -> bool:
    """True when `url` itself carries a secret (so a file holding it must be private)."""
    return redact(url) != url
