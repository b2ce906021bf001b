"""`xp queue recover`: rebuild the queue database's entries from git after it was lost.

Every queued experiment is a commit under `refs/xp/queue/<id>` whose trailers carry its entry
(`xp-queue-entry: <id>`, `xp-queue-details: {name, params, retries, message}`), so the database
is only an index: an entry missing from it is re-created — as `success` when its experiment is
already in git (found by the same trailer on the experiment's commit), else as `queued`, so
that it runs once more. Entries still in the database are left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyhelper.core.gitrepo import exp_refs, open_repo
from pyhelper.core.project import Project
from pyhelper.core.queue.db import Entry, QueueDb
from pyhelper.core.queue.enqueue import TRAILER
from pyhelper.core.refs import QUEUE_NAMESPACE

DETAILS = "xp-queue-details"


@dataclass(frozen=True)
class Recovered:
    """What `recover` found: entries re-created (or, with `dry`, that would be), and those already known."""

    entries: tuple[Entry | dict, ...]
    known: int


def recover(project: Project, *, dry: bool = False) -> Recovered:
    """Re-creates the entries of every queued commit the database does not know."""
    repo = open_repo(project)
    recorded: dict[str, str] = {}
    for _, rev in exp_refs(repo):
        entry_id = _trailer(repo[rev].message, TRAILER)
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
            items.append(_item(repo, entry_id, str(reference.target), recorded.get(entry_id)))
        items.sort(key=lambda item: (item["created"], item["name"]))
        if dry or not items:
            return Recovered(tuple(items), len(known))
        return Recovered(tuple(db.restore(items)), len(known))
    finally:
        db.close()


def _item(repo, entry_id: str, rev: str, experiment: str | None) -> dict:
    commit = repo[rev]
    details: dict = {}
    raw = _trailer(commit.message, DETAILS)
    if raw:
        try:
            details = json.loads(raw)
        except ValueError:
            details = {}  # Damaged by hand: the entry still comes back, with a fallback name.
    summary = commit.message.split("\n\n", 1)[0].strip()
    name = details.get("name") or summary.removeprefix("xp: queued experiment ").strip() or entry_id
    return {
        "id": entry_id, "name": name, "baseline": str(commit.parent_ids[0]) if commit.parent_ids else "",
        "rev": rev, "params": [str(p) for p in details.get("params", [])], "message": details.get("message", ""),
        "retries": int(details.get("retries", 0)), "created": float(commit.commit_time),
        "status": "success" if experiment else "queued", "exp_rev": experiment,
    }


def _trailer(message: str, key: str) -> str | None:
    """The value of the last `key: value` line of a commit message."""
    prefix = key + ": "
    for line in reversed(message.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    return None
