"""`xp queue recover`: rebuild the queue database's entries from git after it was lost.

Every queued experiment is a commit under `refs/xp/queue/<id>` whose trailers carry its entry
(`xp-queue-entry: <id>`, `xp-queue-details: {name, params, retries, message}`), so the database
is only an index: an entry missing from it is re-created — as `success` when its experiment is
already in git (found by the same trailer on the experiment's commit), else as `queued`, so
that it runs once more. Entries still in the database are left alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pyhelper.core.git.gitcore import lookup_commit
from pyhelper.core.git.gitrepo import exp_refs, open_repo
from pyhelper.core.git.refs import QUEUE_NAMESPACE, check_name
from pyhelper.core.project import Project
from pyhelper.core.queue.db import Entry, QueueDb
from pyhelper.core.queue.enqueue import TRAILER
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

DETAILS = "xp-queue-details"
_ENTRY = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True)
class Recovered:
    """What `recover` found: entries re-created (or, with `dry`, that would be), and those already known."""

    entries: tuple[Entry | dict[str, Any], ...]
    known: int


def recover(project: Project, *, dry: bool = False) -> Recovered:
    """Re-creates the entries of every queued commit the database does not know."""
    repo = open_repo(project)
    recorded: dict[str, str] = {}
    for _, rev in exp_refs(repo):
        entry_id = _trailer(lookup_commit(repo, rev).message, TRAILER)
        if entry_id:
            recorded[entry_id] = rev
    db = QueueDb(project)
    try:
        known = {row[0] for row in db.db.execute("SELECT id FROM entries").fetchall()}
        items = []
        for reference in repo.references.iterator():
            if not reference.name.startswith(QUEUE_NAMESPACE + "/"):
                continue
            entry_id = reference.name.rsplit("/", 1)[1]
            if entry_id in known:
                continue
            item = _item(repo, entry_id, str(reference.target), recorded.get(entry_id))
            if item is not None:
                items.append(item)
        items.sort(key=lambda item: (item["created"], item["name"]))
        if dry or not items:
            return Recovered(tuple(items), len(known))
        return Recovered(tuple(db.restore(items)), len(known))
    finally:
        db.close()


def _item(repo: pygit2.Repository, entry_id: str, rev: str, experiment: str | None) -> dict[str, Any] | None:
    """The entry a queued commit carries, or None when it is not one xp could have written.

    Queued commits may come from a shared remote (`queue recover` on Redis), so their trailers are
    untrusted: the entry id must be xp's shape, a name that is not a valid experiment name falls back
    to `recovered-<id>`, and params, message and retries are kept only within the bounds of a job."""
    from pyhelper.core.queue.remote_job import MAX_MESSAGE, MAX_PARAM, MAX_PARAMS, MAX_RETRIES, JobPayload

    try:
        found = repo[rev]
    except (KeyError, ValueError):
        return None
    if not _ENTRY.fullmatch(entry_id) or found.type_str != "commit":
        return None
    commit = cast("pygit2.Commit", found)
    if not commit.parent_ids:
        return None
    details: dict[str, Any] = {}
    raw = _trailer(commit.message, DETAILS)
    if raw and len(raw) <= MAX_MESSAGE * 2:
        try:
            details = json.loads(raw)
        except (ValueError, RecursionError):
            details = {}  # Damaged by hand: the entry still comes back, with a fallback name.
    if not isinstance(details, dict):
        details = {}
    summary = commit.message.split("\n\n", 1)[0].strip()
    name = details.get("name") or summary.removeprefix("xp: queued experiment ").strip()
    try:
        name = check_name(name) if isinstance(name, str) and len(name) <= 100 else ""
    except BadInput:
        name = ""
    params = details.get("params", [])
    params = [p for p in params if isinstance(p, str)] if isinstance(params, list) else []
    message = details.get("message", "")
    retries = details.get("retries", 0)
    item = {
        "id": entry_id, "name": name or f"recovered-{entry_id}", "baseline": str(commit.parent_ids[0]), "rev": rev,
        "params": [p[:MAX_PARAM] for p in params[:MAX_PARAMS]],
        "message": message[:MAX_MESSAGE] if isinstance(message, str) else "",
        "retries": retries if type(retries) is int and 0 <= retries <= MAX_RETRIES else 0,
        "created": float(commit.commit_time), "status": "success" if experiment else "queued", "exp_rev": experiment,
    }
    try:  # Whatever is left (control characters in a value): the fields a job could not carry are dropped.
        JobPayload.from_kwargs({k: item[k] for k in ("name", "rev", "baseline", "params", "message", "retries")}
                               | {"entry": entry_id})
    except Exception:  # noqa: BLE001 - ForeignJob: keep the entry, without what made it so.
        item.update(params=[], message="")
    return item


def _trailer(message: str, key: str) -> str | None:
    """The value of the last `key: value` line of a commit message."""
    prefix = key + ": "
    for line in reversed(message.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return None
