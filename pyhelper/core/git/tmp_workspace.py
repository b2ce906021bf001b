"""Private work trees under `.xp/tmp/`: where `exp run --temp` (and later queue workers) run.

A private work tree is a git repository whose `objects` folder is the user's own (a symlink),
so every blob, tree and commit written there is already in the user's repository. Its HEAD is a
branch of its own at the baseline commit and its index holds the snapshot being run, so the
usual snapshot code sees exactly what the run changed. Cached outputs come from the shared
object cache; the user's workspace, index, HEAD and branches are never touched.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.git.gitcore import lookup_tree
from pyhelper.core.project import Project
from pyhelper.core.storage.outputs import checkout_outputs

if TYPE_CHECKING:
    import pygit2

BRANCH = "refs/heads/xp-baseline"


@dataclass(frozen=True)
class TmpWorkspace:
    """A private work tree and the project seen from it."""

    project: Project
    repo: pygit2.Repository

    @property
    def root(self) -> Path:
        """The folder the pipeline runs in."""
        return self.project.root


def create(project: Project, repo: pygit2.Repository, baseline: pygit2.Commit, tree: pygit2.Oid) -> TmpWorkspace:
    """A new private work tree holding `tree` (a snapshot), with HEAD at `baseline`."""
    import pygit2

    root = project.ensure_xp_dir() / "tmp" / f"ws-{os.urandom(6).hex()}"
    root.mkdir(parents=True)
    try:
        pygit2.init_repository(str(root))
        objects = root / ".git" / "objects"
        shutil.rmtree(objects)
        objects.symlink_to(common_dir(repo) / "objects", target_is_directory=True)
        # Opened where it is and nowhere above: were the copy unreadable, searching upwards would find the
        # user's own repository, and the branch and HEAD below would be set there.
        private = pygit2.Repository(str(root), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        if Path(private.path).resolve() != (root / ".git").resolve():
            raise RuntimeError(f"the private work tree {root} did not open as its own repository")
        private.references.create(BRANCH, baseline.id, force=True)
        private.set_head(BRANCH)
        snapshot = lookup_tree(private, tree)
        private.index.read_tree(snapshot)
        private.index.write()
        private.checkout_index(strategy=pygit2.enums.CheckoutStrategy.FORCE)
        view = project.in_workspace(root)
        checkout_outputs(view, private, snapshot)
        return TmpWorkspace(view, private)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def common_dir(repo: pygit2.Repository) -> Path:
    """The repository's common git directory: where objects and refs live. In a linked worktree
    (`git worktree add`) `repo.path` is the worktree's own folder, which has neither."""
    path = Path(repo.path).resolve()
    pointer = path / "commondir"
    if pointer.is_file():
        return (path / pointer.read_text().strip()).resolve()
    return path


def remove(workspace: TmpWorkspace) -> None:
    """Deletes the private work tree (its objects live on in the user's repository)."""
    shutil.rmtree(workspace.root, ignore_errors=True)
    lock = workspace.project.xp_dir / "tmp" / f"{workspace.root.name}.lock"
    lock.unlink(missing_ok=True)
