"""`xp exp run --queue`: queue one experiment, or a sweep of them, without touching the workspace.

Each entry is a commit (parent: HEAD) holding the workspace as it is now — tracked changes and
untracked, not-ignored files — with the entry's params applied, kept alive by its own ref
(`refs/xp/queue/<id>`). Everything is checked before anything is written.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import TYPE_CHECKING

from pyhelper.core.experiments import names as name_gen
from pyhelper.core.experiments.save import gc_held, taken_names
from pyhelper.core.git.gitcore import lookup_blob, lookup_tree
from pyhelper.core.git.gitrepo import FILE_MODE, head_commit, open_repo, signature, snapshot_tree, tree_with
from pyhelper.core.git.refs import check_name, queue_ref
from pyhelper.core.project import Project
from pyhelper.core.queue import sweep
from pyhelper.core.queue.backend import open_backend
from pyhelper.core.queue.db import Entry
from pyhelper.core.values.params_edit import Override, edited_content, parse_override
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

TRAILER = "xp-queue-entry"
"""The trailer naming a commit's queue entry; experiments recorded by workers carry it too."""


def trailers(entry_id: str, name: str, params: list[str] | tuple[str, ...], retries: int, message: str) -> str:
    """The trailers of a queued commit: everything needed to rebuild its entry from git alone."""
    details = json.dumps({"name": name, "params": list(params), "retries": retries, "message": message},
                         ensure_ascii=False)
    return f"{TRAILER}: {entry_id}\nxp-queue-details: {details}\n"


def enqueue(project: Project, *, set_values: list[str], name: str | None = None, message: str | None = None,
            sample: int | None = None, seed: int | None = None, confirm: bool = False,
            retries: int = 0) -> list[Entry]:
    """Queues every point of the sweep `set_values` describes; returns the entries in order."""

    if retries < 0:
        raise BadInput("--retries must be 0 or more", hint="pass --retries N with N ≥ 0")
    if project.sub:
        # Queue entries and workers do not carry which sub-project they belong to yet.
        raise BadInput(f"the queue does not serve a DVC project inside a monorepo ('{project.sub}') yet",
                       hint="run the experiment with `xp exp run --temp` (it runs in a private copy just the same)")
    project.require_pipeline()
    from pyhelper.core.pipeline.repro import cache_tracked_data

    cache_tracked_data(project)  # Workers get `.dvc`-tracked data from the cache.
    project.pipeline()  # A broken dvc.yaml is reported now, not when a worker runs it.
    repo = open_repo(project)
    head = head_commit(repo, project)
    baseline = str(head.id)
    points = sweep.expand(list(set_values), sample=sample, seed=seed, confirm=confirm)
    db = open_backend(project)  # The local SQLite queue, or RQ on Redis as .xp/config says.
    try:
        chosen = _names(repo, name, len(points), taken_names(repo, baseline) | db.names())
        with gc_held(repo):  # A `git gc --prune=now` meanwhile would take the new objects.
            base = lookup_tree(repo, snapshot_tree(repo, project.root, head.tree))
            sig = signature(repo)
            prepared = []
            for point, entry_name in zip(points, chosen, strict=True):  # Build every tree first: errors stop all.
                by_file: dict[str, list[Override]] = defaultdict(list)
                for assignment in point:
                    override = parse_override(assignment)
                    by_file[override.file].append(override)
                edits = {}
                for file, overrides in by_file.items():
                    try:
                        current = lookup_blob(repo, base[file].id).data.decode("utf-8")
                    except KeyError:
                        current = None
                    suffix = "." + file.rsplit(".", 1)[-1].lower() if "." in file else ""
                    text = edited_content(current, suffix, overrides, display=file)
                    edits[file] = (repo.create_blob(text.encode("utf-8")), FILE_MODE)
                prepared.append((entry_name, point, tree_with(repo, base, edits)))
            items = []
            for entry_name, point, tree in prepared:
                entry_id = os.urandom(6).hex()
                text = f"{message or 'xp: queued experiment ' + entry_name}\n\n" + trailers(
                    entry_id, entry_name, point, retries, message or "")
                commit = repo.create_commit(None, sig, sig, text, tree, [head.id])
                repo.references.create(queue_ref(entry_id), commit, force=True)
                items.append({"id": entry_id, "name": entry_name, "baseline": baseline, "rev": str(commit),
                              "params": point, "message": message or "", "retries": retries})
        return db.add(items)
    finally:
        db.close()


def _names(repo: pygit2.Repository, name: str | None, count: int, taken: set[str]) -> list[str]:
    """`name` (one entry), `name-1`…`name-N` (a sweep), or generated names; none already taken, none that
    would shadow a revision or be too long (`names.check_new`: refused before anything is queued)."""
    from pyhelper.core.experiments.names import check_new

    if name is None:
        out: list[str] = []
        for _ in range(count):
            out.append(name_gen.generate(taken | set(out)))
        return out
    check_name(name)
    wanted = [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]
    for each in wanted:
        check_new(repo, each)
    clash = [n for n in wanted if n in taken]
    if clash:
        raise BadInput(f"an experiment or queue entry named '{clash[0]}' already exists for this baseline",
                       hint="choose another name with -n")
    return wanted
