"""The git side of experiments, through pygit2: open the repository, snapshot the workspace.

A snapshot is HEAD's tree with every changed, deleted and untracked (not ignored) file of the
workspace applied, written straight to the object database (only the touched subtrees are
rebuilt). pygit2 is used through `gitcore`, its C core loaded alone for speed.
The repository's own index, HEAD and branches are never touched.
"""

from __future__ import annotations

import os
import stat as statmod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.git.gitcore import EMPTY_TREE, lookup_tree, native, open_repository
from pyhelper.core.git.refs import EXPS_NAMESPACE, ExpRef
from pyhelper.core.project import Project
from pyhelper.errors import NoCommits

if TYPE_CHECKING:
    import pygit2

FILE_MODE = 0o100644
EXEC_MODE = 0o100755
LINK_MODE = 0o120000
TREE_MODE = 0o040000


def open_repo(project: Project) -> pygit2.Repository:
    """The project's repository."""
    repo: pygit2.Repository = open_repository(str(project.root))
    return repo


def head_commit(repo: pygit2.Repository, project: Project) -> pygit2.Commit:
    """HEAD's commit (a detached HEAD is fine); `NoCommits` with the fix when there is none."""
    if repo.head_is_unborn:
        raise NoCommits(
            f"{project.no_commits_yet()}; an experiment needs a commit to start from",
            hint="commit your project first: git add -A && git commit -m 'Initial commit'" + project.orphan_hint(),
            path=str(project.root),
        )
    commit: pygit2.Commit = repo.head.peel(native().Commit)
    return commit


def signature(repo: pygit2.Repository) -> pygit2.Signature:
    """The user's git identity, or xp's own when git has none configured."""
    git = native()
    try:
        return repo.default_signature
    except (KeyError, git.GitError):
        own: pygit2.Signature = git.Signature("xp", "xp@localhost")
        return own


def exp_refs(repo: pygit2.Repository) -> list[tuple[ExpRef, str]]:
    """Every experiment ref and the commit it points at, sorted by baseline and name."""
    found = []
    # Iterating references yields each with its target; looking names up one by one costs 20x more.
    for reference in repo.references.iterator():
        name = reference.name
        ref = ExpRef.parse(name) if name.startswith(EXPS_NAMESPACE + "/") else None
        if ref is not None:
            found.append((ref, str(reference.target)))
    return sorted(found)


def snapshot_tree(repo: pygit2.Repository, root: Path, base_tree: pygit2.Tree,
                  exclude: frozenset[str] = frozenset()) -> pygit2.Oid:
    """The tree of the workspace as it is now: `base_tree` plus every change, deletion and new file.

    Paths in `exclude` (and files below them) are left as `base_tree` has them: a checkpoint
    leaves out cached outputs that a running stage writes before they are git-ignored.
    """
    ignored = native().GIT_STATUS_IGNORED
    changes: dict[str, tuple[pygit2.Oid, int] | None] = {}
    for path, flags in repo.status(untracked_files="all", ignored=False).items():
        if flags & ignored or (exclude and _excluded(path, exclude)) or _private(path):
            continue
        full = root / path
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            changes[path] = None
            continue
        if statmod.S_ISLNK(st.st_mode):
            changes[path] = (repo.create_blob(os.readlink(full).encode()), LINK_MODE)
        elif statmod.S_ISREG(st.st_mode):
            oid = _file_blob(repo, full)
            if oid is None:
                changes[path] = None  # Deleted (or renamed away) since git listed it.
                continue
            changes[path] = (oid, EXEC_MODE if st.st_mode & 0o100 else FILE_MODE)
        # A submodule or a special file is left as the base tree has it.
    return tree_with(repo, base_tree, changes)


def _private(path: str) -> bool:
    """True for xp's own state (`.xp/` at the root): never part of an experiment, even when its `.gitignore`
    is gone (the folder deleted and recreated by a write below it)."""
    return path.startswith(".xp/")


def _excluded(path: str, exclude: frozenset[str]) -> bool:
    """True when `path` is one of `exclude` or inside one of them."""
    return path in exclude or any(path.startswith(prefix + "/") for prefix in exclude)


def _file_blob(repo: pygit2.Repository, full: Path) -> pygit2.Oid | None:
    """The blob of a file as it is on disk, or None when it is gone.

    A file that changes size or goes away while git reads it (someone is writing it now, e.g. a
    training loop between two checkpoints) is taken as one plain read sees it.
    """
    try:
        return repo.create_blob_fromdisk(str(full))
    except (OSError, native().GitError):
        try:
            return repo.create_blob(full.read_bytes())
        except (FileNotFoundError, IsADirectoryError):
            return None


def tree_with(repo: pygit2.Repository, base: pygit2.Tree | None,
              changes: Mapping[str, tuple[pygit2.Oid, int] | None]) -> pygit2.Oid:
    """`base` with each path set to (blob, mode) or removed (None); untouched subtrees are reused.

    A folder left empty disappears, as git has no empty trees inside a commit.
    """
    # The tree is looked up in `repo` itself: a private work tree's snapshot starts from a tree
    # object of the user's repository, which libgit2 will not build on across repositories.
    builder = repo.TreeBuilder(base.id) if base is not None else repo.TreeBuilder()
    nested: dict[str, dict[str, tuple[pygit2.Oid, int] | None]] = {}
    for path, change in changes.items():
        head, sep, rest = path.partition("/")
        if sep:
            nested.setdefault(head, {})[rest] = change
        elif change is None:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            builder.insert(head, change[0], change[1])
    for name, inner in nested.items():
        entry = builder.get(name)
        subtree = lookup_tree(repo, entry.id) if entry is not None and entry.filemode == TREE_MODE else None
        oid = tree_with(repo, subtree, inner)
        if str(oid) == EMPTY_TREE:
            if entry is not None:
                builder.remove(name)
        else:
            builder.insert(name, oid, TREE_MODE)
    return builder.write()
