"""Putting a commit's cached outputs (those dvc.lock lists and git does not hold) into a work tree.

The commit may be a teammate's: every path it names is checked with `inside.inside_work_tree` before
it is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.git.gitcore import lookup_blob
from pyhelper.core.inside import inside_work_tree
from pyhelper.core.project import Project

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.storage.hashing import HashInfo

@dataclass(frozen=True)
class CheckedOut:
    """Which outputs were put in place, and which the cache no longer has."""

    outputs: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class Recorded:
    """A cached output a commit records: its repository path, its hash, and the file that lists it."""

    path: str
    info: HashInfo
    source: str


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    try:
        return tree[path]
    except (KeyError, ValueError):
        return None


def recorded_outputs(project: Project, repo: pygit2.Repository, tree: pygit2.Tree, *,
                     strict: bool) -> list[Recorded]:
    """The cached outputs the tree records (every dvc.lock's, and the data of its `.dvc` files) and git does
    not hold. A lock or `.dvc` file that does not parse raises with `strict`, and is skipped without."""
    import posixpath

    from pyhelper.core.pipeline.collect import TreeFiles
    from pyhelper.core.pipeline.dvcdata import parse_data_file
    from pyhelper.core.pipeline.dvcfile import parse_pipeline
    from pyhelper.core.pipeline.lockfile import parse_lock
    from pyhelper.errors import XpError

    listing = TreeFiles(repo, project.sub)
    files = listing.pipelines(tree)

    def read(rel: str) -> str | None:
        found = _entry(tree, rel)
        if found is None or found.type_str != "blob":
            return None
        return lookup_blob(repo, found.id).data.decode("utf-8", errors="replace")

    wanted: list[Recorded] = []
    try:
        pipeline = parse_pipeline(read, files=list(files), sub=project.sub)
    except XpError:
        pipeline = None
    for dvcfile in files:
        lock_path = posixpath.join(posixpath.dirname(dvcfile), "dvc.lock")
        text = read(lock_path)
        if text is None:
            continue
        try:
            lock = parse_lock(text, display=lock_path)
        except XpError:
            if strict:
                raise
            continue
        for name, entry in lock.items():
            stage = pipeline.stages.get(pipeline.address(dvcfile, name)) if pipeline is not None else None
            for out_path, info in entry.outs.items():
                path = stage.repo_path(out_path) if stage else posixpath.normpath(
                    posixpath.join(posixpath.dirname(dvcfile) or ".", out_path))
                wanted.append(Recorded(path, info, lock_path))
    for data_path in listing.data(tree):
        text = read(data_path)
        if text is None:
            continue
        try:
            data = parse_data_file(text, data_path)
        except XpError:
            if strict:
                raise
            continue
        wanted.extend(Recorded(out.path, out.hash, data_path) for out in data.outs
                      if out.hash is not None and out.cache)
    return [out for out in wanted if _entry(tree, out.path) is None]  # Git holds the rest.


def checkout_outputs(project: Project, repo: pygit2.Repository, tree: pygit2.Tree) -> CheckedOut:
    """Checks out the tree's cached outputs into `project.root`, keeping what is replaced in the cache.

    A lock or `.dvc` file that does not parse is skipped; a path that leaves the work tree is reported
    missing, never written (`exp apply` refuses those up front instead).
    """
    return checkout(project, recorded_outputs(project, repo, tree, strict=False))


def checkout(project: Project, wanted: list[Recorded]) -> CheckedOut:
    """Puts each recorded output in place from the cache, keeping what is replaced; outputs the cache lacks,
    or whose path leaves the work tree (symlinks followed), are returned as missing. A cached object that
    does not hash to its name raises `CorruptObject`, leaving that output's file as it was."""
    from pyhelper.core.storage.cache import Cache
    from pyhelper.core.storage.hashing import StatIndex

    if not wanted:
        return CheckedOut((), ())
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    cache = Cache(project.cache_dir, index)
    done: list[str] = []
    missing: list[str] = []
    root = os.path.realpath(project.root)
    try:
        for out in wanted:
            target = project.root / out.path
            if not inside_work_tree(root, out.path):
                missing.append(out.path)
                continue
            # A symlink there is replaced, never followed: what it points at is not the output.
            current = None if target.is_symlink() else index.hash_path(target)
            if current is not None and current.md5 == out.info.md5:
                continue
            if not cache.present(out.info, target):  # An object that rotted raises `CorruptObject` here.
                missing.append(out.path)
                continue
            if current is not None and not cache.has(current):
                cache.save(target, current)  # Keep what is there before replacing it.
            cache.checkout(out.info, target)
            done.append(out.path)
    finally:
        index.close()
    return CheckedOut(tuple(done), tuple(missing))
