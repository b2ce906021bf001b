"""`xp exp apply NAME`: bring an experiment's files and cached outputs into the workspace.

HEAD, the index and branches stay as they are. A file is overwritten only when it holds no
uncommitted work, or when that work is kept somewhere: a changed or untracked file that the
experiment would replace makes apply refuse, unless `force`, which first records the whole
workspace as an experiment and says its name. Cached outputs that are replaced are first kept
in the object cache.

An experiment may be a teammate's (pulled): every path it names (its tree and symlinks, its locks'
and `.dvc` files' outputs, the cache's listings of its folders, its checkpoint trailer) must stay
inside the work tree, symlinks followed, and out of `.git/` and `.xp/`; one that does not makes apply
refuse before anything is written.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.experiments.resolve import find
from pyhelper.core.experiments.save import Experiment, record
from pyhelper.core.git.gitcore import lookup_blob, native
from pyhelper.core.git.gitrepo import EXEC_MODE, LINK_MODE, exp_refs, head_commit, open_repo
from pyhelper.core.inside import inside_work_tree
from pyhelper.core.project import Project, workspace_lock
from pyhelper.core.storage.atomic_write import write_atomic
from pyhelper.core.storage.cache import CorruptObject
from pyhelper.core.storage.outputs import Recorded, checkout, recorded_outputs
from pyhelper.errors import BadInput, WouldOverwrite, XpError

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.experiments.checkpoint import Checkpoint


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
    except (KeyError, ValueError):
        return None


def apply(project: Project, spec: str, *, force: bool = False,
          progress: Callable[[int, int], None] | None = None) -> Applied:
    """Applies the experiment; see the module docstring for the safety rule. `progress(done, total)` counts the
    objects fetched from the default remote, when the cache lacks some."""
    git = native()

    with workspace_lock(project):
        repo = open_repo(project)
        head = head_commit(repo, project)
        experiment = find(repo, spec)
        exp_tree = repo[experiment.rev].tree
        root = project.root
        dirty = {path for path, flags in repo.status(untracked_files="all", ignored=False).items()
                 if not flags & git.GIT_STATUS_IGNORED}
        changed: set[str] = set()
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
            elif entry is None and _entry(head.tree, path) is not None and (full.is_symlink() or full.is_file()):
                deletes.append(path)
            elif entry is not None and entry.type_str == "tree" and (full.is_symlink() or full.is_file()):
                deletes.append(path)  # A folder where the work tree has a file or symlink: replaced, as git does.
            else:
                continue
            if path in dirty:
                conflicts.append(path)
        try:
            outputs_wanted, checkpoint = _refuse_untrusted(project, repo, experiment, head.tree, writes, deletes)
        except XpError as err:
            raise BadInput(err.message, hint=f"nothing was applied; {err.hint}", path=err.path,
                           line=err.line) from None
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
        # Deletions first: a file below a folder that the experiment makes a symlink goes before the symlink
        # exists, so it is never deleted through it.
        for path in deletes:
            (root / path).unlink()
        for path, entry in writes.items():
            _write(repo, root / path, entry)
        try:
            from pyhelper.core.remotes.transfer import fetch_missing

            wanted_infos = [out.info for out in outputs_wanted]
            if checkpoint is not None:
                wanted_infos += list(checkpoint.outs.values()) if not checkpoint.problem else []
            # What this cache lacks, from the default remote (if any).
            fetch_missing(project, wanted_infos, progress=progress)
            checked = checkout(project, outputs_wanted)
            outputs, missing = checked.outputs, checked.missing
            if checkpoint is not None:  # Its persisted outputs are listed in its commit's trailer, not dvc.lock.
                from pyhelper.core.experiments.checkpoint import checkout_persisted

                restored, missed = checkout_persisted(project, checkpoint, strict=False)
                outputs, missing = (*outputs, *restored), (*missing, *missed)
        except CorruptObject as err:
            # The experiment's git files are in place by now; the rotten output's file was left as it was.
            raise CorruptObject(err.message, hint=f"{err.hint}; the experiment's other files were applied") from None
        return Applied(experiment, tuple(writes), tuple(deletes), outputs, missing, saved)


def _refuse_untrusted(project: Project, repo: pygit2.Repository, experiment: Experiment, head_tree: pygit2.Tree,
                      writes: dict[str, pygit2.Object], deletes: list[str]) -> tuple[list[Recorded], Checkpoint | None]:
    """Raises `BadInput` when applying would write outside the work tree (or into `.git/`, `.xp/`), before
    anything is written; returns the cached outputs and the checkpoint (if the experiment is one) to restore.

    The experiment may be a teammate's: its tree, locks, `.dvc` files, the cache's folder listings and its
    checkpoint trailer all name paths, each followed through the symlinks the work tree will hold.
    """
    from pyhelper.core.experiments.checkpoint import checkpoint_at, refuse_unsafe
    from pyhelper.core.storage.cache import Cache

    root = os.path.realpath(project.root)
    rev = experiment.rev[:7]
    hint = (f"an experiment made elsewhere can name any path: inspect it (`git show {rev}`) and remove it "
            f"(`xp exp remove {experiment.name}`)")
    links: dict[str, str | None] = {path: None for path in deletes}
    for path, entry in writes.items():
        is_link = entry.filemode == LINK_MODE
        links[path] = lookup_blob(repo, entry.id).data.decode("utf-8", "replace") if is_link else None

    def refuse(what: str, path: str) -> BadInput:
        parts = posixpath.normpath(path).split("/")
        where = "which leads outside the work tree"
        if parts == ["."]:
            where = "which is the work tree itself"
        elif any(part.casefold() == ".git" for part in parts) or parts[0].casefold() == ".xp":
            where = "inside git's or xp's own folder"
        return BadInput(f"experiment '{experiment.name}' {what}, {where}", hint=hint)

    for path in deletes:
        if not inside_work_tree(root, path):
            raise refuse(f"deletes '{path}'", path)
    for path, entry in writes.items():
        if not inside_work_tree(root, path, links):
            raise refuse(f"holds '{path}'", path)
        if entry.filemode == LINK_MODE and not _same_entry(head_tree, path, entry) and not inside_work_tree(
                root, path, links, follow_last=True):
            raise refuse(f"holds a symlink '{path}' to '{links[path]}'", path)
    try:
        wanted = recorded_outputs(project, repo, repo[experiment.rev].tree, strict=True)
    except XpError as err:
        where = f"{err.path}:{err.line}" if err.line else err.path
        raise BadInput(f"experiment '{experiment.name}' holds {where}, which xp cannot read: {err.message}",
                       hint=hint) from None
    cache = Cache(project.cache_dir)
    for out in wanted:
        if not inside_work_tree(root, out.path, links):
            raise refuse(f"lists output '{out.path}' (in its {out.source})", out.path)
        if out.info.isdir:
            cache.manifest(out.info.md5, out.info.legacy)  # A folder listing that leaves its folder raises.
    checkpoint = checkpoint_at(repo, experiment.ref, experiment.rev)
    if checkpoint is not None:
        refuse_unsafe(project, checkpoint, links)
        for info in checkpoint.outs.values():
            if info.isdir:
                cache.manifest(info.md5)
    return wanted, checkpoint


def _same_entry(tree: pygit2.Tree, path: str, entry: pygit2.Object) -> bool:
    """True when `tree` (HEAD's) holds the same blob with the same mode at `path`: the user's own."""
    mine = _entry(tree, path)
    return mine is not None and mine.id == entry.id and mine.filemode == entry.filemode


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
    data = lookup_blob(repo, entry.id).data
    if os.path.lexists(path) and (path.is_symlink() or not path.is_file()):
        from pyhelper.core.storage.cache import remove

        remove(path)
    if entry.filemode == LINK_MODE:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(data.decode(), path)
        return
    write_atomic(path, data)
    os.chmod(path, 0o755 if entry.filemode == EXEC_MODE else 0o644)
