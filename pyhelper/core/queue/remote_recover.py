"""`xp queue recover` for the queue on Redis: entries Redis lost (a flush, a restart without its
append-only file) rebuilt from the shared git remote.

Every queued commit is on the remote under `refs/xp/queue/<id>` and carries its entry in trailers
(`xp-queue-entry`, `xp-queue-details`: see `recover.py`), so Redis is only an index, as the SQLite
database is for the local queue. An entry Redis no longer knows comes back as `success` when the
remote has its experiment (a commit with its `xp-queue-entry` trailer), else as `queued`, with a
new RQ job. Its run counter resumes after the runs whose checkpoints the remote holds, so a new run
may replace them (`remote_git.py`). Entries Redis still knows are left alone.
"""

from __future__ import annotations

import subprocess

from pyhelper.core.experiments.checkpoint import parse_trailer
from pyhelper.core.git.gitargs import check_remote, git_argv, git_env, git_error, shown, valid_refname
from pyhelper.core.git.gitcore import lookup_commit
from pyhelper.core.git.gitrepo import open_repo
from pyhelper.core.git.refs import EXPS_NAMESPACE, QUEUE_NAMESPACE
from pyhelper.core.project import Project
from pyhelper.core.queue.enqueue import TRAILER
from pyhelper.core.queue.recover import Recovered, _item, _trailer
from pyhelper.core.queue.redis_backend import RedisQueue, entry_key, guarded
from pyhelper.core.queue.store import QueueError


def _git(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(git_argv(*args), cwd=project.root, capture_output=True, text=True, env=git_env(),
                          stdin=subprocess.DEVNULL)


def _remote_refs(project: Project, remote: str) -> dict[str, str]:
    """Ref name → commit of the remote's queue refs and experiment refs, their objects fetched here."""
    check_remote(remote)
    listed = _git(project, "ls-remote", "--", remote, f"{QUEUE_NAMESPACE}/*", f"{EXPS_NAMESPACE}/*")
    if listed.returncode != 0:
        raise QueueError(f"listing the queue on '{shown(remote, 1000)}' failed: {git_error(listed)}",
                         hint="check the remote (`remote` in .xp/config) and your access to it")
    # The listing is the remote's word: only refs of xp's namespaces that git accepts as names are used.
    refs = {name: sha for sha, _, name in (line.partition("\t") for line in listed.stdout.splitlines())
            if name.startswith((QUEUE_NAMESPACE + "/", EXPS_NAMESPACE + "/")) and valid_refname(name)}
    if refs:  # Objects only (FETCH_HEAD): nothing of the remote's becomes a local ref here.
        fetched = _git(project, "fetch", "-q", "--no-tags", "--", remote, *refs)
        if fetched.returncode != 0:
            raise QueueError(f"fetching the queue from '{shown(remote, 1000)}' failed: {git_error(fetched)}",
                             hint="check the remote (`remote` in .xp/config) and your access to it")
    return refs


def recover(project: Project, queue: RedisQueue, *, dry: bool = False) -> Recovered:
    """Re-creates the entries of every queued commit on the remote (or only here) that Redis does not know."""
    assert queue.remote is not None
    refs = _remote_refs(project, queue.remote)
    repo = open_repo(project)
    recorded: dict[str, str] = {}
    runs: dict[str, int] = {}
    for name, rev in refs.items():
        if not name.startswith(EXPS_NAMESPACE + "/"):
            continue
        message = lookup_commit(repo, rev).message
        entry_id = _trailer(message, TRAILER)
        if entry_id:
            recorded[entry_id] = rev
        data = parse_trailer(message)  # A run stopped mid-way: its checkpoints name it `<entry>.<run>`.
        entry, _, number = str((data or {}).get("run", "")).partition(".")
        if number.isdigit():
            runs[entry] = max(runs.get(entry, 0), int(number))
    queued = {name.rsplit("/", 1)[1]: rev for name, rev in refs.items() if name.startswith(QUEUE_NAMESPACE + "/")}
    for reference in repo.references.iterator():  # Queued here but perhaps never pushed: they come back too.
        if reference.name.startswith(QUEUE_NAMESPACE + "/"):
            queued.setdefault(reference.name.rsplit("/", 1)[1], str(reference.target))
    with guarded(queue.url), queue.redis.pipeline() as pipe:
        for entry_id in queued:
            pipe.exists(entry_key(entry_id))
        present = pipe.execute()
    known = {entry_id for entry_id, there in zip(queued, present, strict=True) if there}
    found = [_item(repo, entry_id, rev, recorded.get(entry_id)) for entry_id, rev in queued.items()
             if entry_id not in known]
    items = [item for item in found if item is not None]
    for item in items:
        item["runs"] = runs.get(item["id"], 0)
    items.sort(key=lambda item: (item["created"], item["name"]))
    if dry or not items:
        return Recovered(tuple(items), len(known))
    return Recovered(tuple(queue.restore(items)), len(known))
