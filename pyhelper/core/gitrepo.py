"""The git side of experiments, through pygit2: open the repository, snapshot the workspace.

A snapshot is a tree built in an in-memory index from HEAD's tree plus every changed, deleted
and untracked (not ignored) file of the workspace, written straight to the object database.
The repository's own index, HEAD and branches are never touched.
"""

from __future__ import annotations

import os
import stat as statmod
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.project import Project
from pyhelper.core.refs import EXPS_NAMESPACE, ExpRef
from pyhelper.errors import NoCommits

if TYPE_CHECKING:
    import pygit2

FILE_MODE = 0o100644
EXEC_MODE = 0o100755
LINK_MODE = 0o120000


def open_repo(project: Project) -> pygit2.Repository:
    """The project's repository."""
    import pygit2

    return pygit2.Repository(str(project.root))


def head_commit(repo: pygit2.Repository, project: Project) -> pygit2.Commit:
    """HEAD's commit (a detached HEAD is fine); `NoCommits` with the fix when there is none."""
    if repo.head_is_unborn:
        raise NoCommits(
            "the repository has no commits yet; an experiment needs a commit to start from",
            hint="commit your project first: git add -A && git commit -m 'Initial commit'",
            path=str(project.root),
        )
    import pygit2

    return repo.head.peel(pygit2.Commit)


def signature(repo: pygit2.Repository) -> pygit2.Signature:
    """The user's git identity, or xp's own when git has none configured."""
    import pygit2

    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        return pygit2.Signature("xp", "xp@localhost")


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
    import pygit2

    index = pygit2.Index()
    index.read_tree(base_tree)
    status = repo.status(untracked_files="all", ignored=False)
    for path, flags in status.items():
        if flags & pygit2.enums.FileStatus.IGNORED or (exclude and _excluded(path, exclude)):
            continue
        full = root / path
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            _remove(index, path)
            continue
        if statmod.S_ISLNK(st.st_mode):
            oid = repo.create_blob(os.readlink(full).encode())
            mode = LINK_MODE
        elif statmod.S_ISREG(st.st_mode):
            try:
                oid = repo.create_blob_fromdisk(str(full))
            except (OSError, pygit2.GitError):
                # The file changed size or went away while git read it (someone is writing it now):
                # take what one plain read sees, or leave it out when it is gone.
                try:
                    oid = repo.create_blob(full.read_bytes())
                except (FileNotFoundError, IsADirectoryError):
                    _remove(index, path)
                    continue
            mode = EXEC_MODE if st.st_mode & 0o100 else FILE_MODE
        else:
            continue  # A submodule or a special file: left as the base tree has it.
        index.add(pygit2.IndexEntry(path, oid, mode))
    return index.write_tree(repo)


def _excluded(path: str, exclude: frozenset[str]) -> bool:
    """True when `path` is one of `exclude` or inside one of them."""
    return path in exclude or any(path.startswith(prefix + "/") for prefix in exclude)


def _remove(index: pygit2.Index, path: str) -> None:
    try:
        index.remove(path)
    except (OSError, KeyError):
        pass
