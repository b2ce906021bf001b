"""`xp exp apply NAME`: bring an experiment's files and cached outputs into the workspace.

HEAD, the index and branches stay as they are. A file is overwritten only when it holds no
uncommitted work, or when that work is kept somewhere: a changed or untracked file that the
experiment would replace makes apply refuse, unless `force`, which first records the whole
workspace as an experiment and says its name. Cached outputs that are replaced are first kept
in the object cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.atomic_write import write_atomic
from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment, record
from pyhelper.core.gitcore import native
from pyhelper.core.gitrepo import EXEC_MODE, LINK_MODE, exp_refs, head_commit, open_repo
from pyhelper.core.outputs import checkout_outputs
from pyhelper.core.project import Project
from pyhelper.core.repro import workspace_lock
from pyhelper.errors import WouldOverwrite

if TYPE_CHECKING:
    import pygit2


@dataclass(frozen=True)
class Applied:
    """What applying changed."""

    experiment: Experiment
    written: tuple[str, ...]
    deleted: tuple[str, ...]
    outputs: tuple[str, ...]
    """Cached outputs checked out from the cache."""
    missing_outputs: tuple[str, ...]
    """Cached outputs the experiment recorded but the cache no longer has."""
    saved_as: Experiment | None
    """The experiment the workspace was saved as first (with `force`), if any."""


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    try:
        return tree[path]
    except KeyError:
        return None


def apply(project: Project, spec: str, *, force: bool = False) -> Applied:
    """Applies the experiment; see the module docstring for the safety rule."""
    git = native()

    with workspace_lock(project):
        repo = open_repo(project)
        head = head_commit(repo, project)
        experiment = find(repo, spec)
        exp_tree = repo[experiment.rev].tree
        root = project.root
        dirty = {path for path, flags in repo.status(untracked_files="all", ignored=False).items()
                 if not flags & git.GIT_STATUS_IGNORED}
        changed = set()
        for delta in head.tree.diff_to_tree(exp_tree).deltas:
            changed.update((delta.old_file.path, delta.new_file.path))
        writes: dict[str, pygit2.Object] = {}
        deletes: list[str] = []
        conflicts: list[str] = []
        for path in sorted(changed | dirty):
            entry = _entry(exp_tree, path)
            full = root / path
            if entry is not None and entry.type_str == "blob":
                if full.is_file() and not full.is_symlink() and git.hashfile(str(full)) == entry.id:
                    continue
                writes[path] = entry
            elif entry is None and _entry(head.tree, path) is not None and os.path.lexists(full):
                deletes.append(path)
            else:
                continue
            if path in dirty:
                conflicts.append(path)
        conflicts = _not_kept(repo, root, conflicts)
        saved = None
        if conflicts:
            if not force:
                shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
                raise WouldOverwrite(
                    f"applying '{experiment.name}' would overwrite uncommitted changes in: {shown}",
                    hint="commit them, or `xp exp save` them, or pass --force to save the workspace "
                         "as an experiment first and then apply",
                )
            saved = record(project, name=None, message=f"xp: workspace saved before applying {experiment.name}",
                           force=False)
        for path, entry in writes.items():
            _write(repo, root / path, entry)
        for path in deletes:
            (root / path).unlink()
        checked = checkout_outputs(project, repo, exp_tree)
        outputs, missing = checked.outputs, checked.missing
        outputs, missing = _checkpoint_outputs(project, repo, experiment, outputs, missing)
        return Applied(experiment, tuple(writes), tuple(deletes), outputs, missing, saved)


def _checkpoint_outputs(project: Project, repo: pygit2.Repository, experiment: Experiment,
                        outputs: tuple[str, ...], missing: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Adds a checkpoint's persisted outputs (which its commit's trailer lists, not dvc.lock)."""
    from pyhelper.core.experiments.checkpoint import checkout_persisted, checkpoint_at

    found = checkpoint_at(repo, experiment.ref, experiment.rev)
    if found is None:
        return outputs, missing
    restored, missed = checkout_persisted(project, found, strict=False)
    return (*outputs, *restored), (*missing, *missed)


def _not_kept(repo: pygit2.Repository, root: Path, paths: list[str]) -> list[str]:
    """The paths whose current content no experiment holds (at that path): replacing those loses work.

    A file that is exactly as some experiment recorded it (e.g. one applied earlier) can always
    be brought back, so overwriting it loses nothing.
    """
    if not paths:
        return []
    trees = [repo[rev].tree for _, rev in exp_refs(repo)]
    lost = []
    for path in paths:
        full = root / path
        if full.is_symlink() or not full.is_file():
            lost.append(path)
            continue
        current = native().hashfile(str(full))
        if not any((entry := _entry(tree, path)) is not None and entry.id == current for tree in trees):
            lost.append(path)
    return lost


def _write(repo: pygit2.Repository, path: Path, entry: pygit2.Object) -> None:
    """Writes one blob of the experiment to the workspace, with its file mode."""
    data = repo[entry.id].data
    if os.path.lexists(path) and (path.is_symlink() or not path.is_file()):
        from pyhelper.core.cache import remove

        remove(path)
    if entry.filemode == LINK_MODE:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(data.decode(), path)
        return
    write_atomic(path, data)
    os.chmod(path, 0o755 if entry.filemode == EXEC_MODE else 0o644)
