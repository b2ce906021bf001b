"""Putting a commit's cached outputs (those dvc.lock lists and git does not hold) into a work tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.project import Project

if TYPE_CHECKING:
    import pygit2


@dataclass(frozen=True)
class CheckedOut:
    """Which outputs were put in place, and which the cache no longer has."""

    outputs: tuple[str, ...]
    missing: tuple[str, ...]


def _entry(tree: pygit2.Tree, path: str):
    try:
        return tree[path]
    except KeyError:
        return None


def checkout_outputs(project: Project, repo: pygit2.Repository, tree: pygit2.Tree) -> CheckedOut:
    """Checks out the tree's cached outputs (every dvc.lock's, and the data of its `.dvc` files) into
    `project.root`, keeping what is replaced in the cache.

    Paths come from the commit (possibly a teammate's): one that leaves the work tree, directly or
    through a symlinked folder, is refused and reported missing, never written.
    """
    import posixpath

    from pyhelper.core.cache import Cache
    from pyhelper.core.collect import TreeFiles
    from pyhelper.core.dvcdata import parse_data_file
    from pyhelper.core.dvcfile import parse_pipeline
    from pyhelper.core.hashing import StatIndex
    from pyhelper.core.lockfile import parse_lock
    from pyhelper.errors import XpError

    listing = TreeFiles(repo, project.sub)
    files = listing.pipelines(tree)

    def read(rel: str) -> str | None:
        found = _entry(tree, rel)
        return repo[found.id].data.decode("utf-8", errors="replace") if found is not None else None

    wanted: list[tuple[str, object]] = []  # (repository path, HashInfo)
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
            continue
        for name, entry in lock.items():
            stage = pipeline.stages.get(pipeline.address(dvcfile, name)) if pipeline is not None else None
            for out_path, info in entry.outs.items():
                path = stage.repo_path(out_path) if stage else posixpath.normpath(
                    posixpath.join(posixpath.dirname(dvcfile) or ".", out_path))
                wanted.append((path, info))
    for data_path in listing.data(tree):
        text = read(data_path)
        if text is None:
            continue
        try:
            data = parse_data_file(text, data_path)
        except XpError:
            continue
        wanted.extend((out.path, out.hash) for out in data.outs if out.hash is not None and out.cache)
    if not wanted:
        return CheckedOut((), ())
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    cache = Cache(project.cache_dir, index)
    done: list[str] = []
    missing: list[str] = []
    root = project.root.resolve()
    try:
        for path, info in wanted:
            if _entry(tree, path) is not None:
                continue  # Git holds it: it came with the other files.
            target = project.root / path
            if not _inside(root, path):
                missing.append(path)
                continue
            current = index.hash_path(target)
            if current is not None and current.md5 == info.md5:
                continue
            if not cache.has(info):
                missing.append(path)
                continue
            if current is not None and not cache.has(current):
                cache.save(target, current)  # Keep what is there before replacing it.
            cache.checkout(info, target)
            done.append(path)
    finally:
        index.close()
    return CheckedOut(tuple(done), tuple(missing))


def _inside(root, path: str) -> bool:
    """True when a repository path stays inside the work tree, its folders' symlinks followed."""
    import os
    import posixpath

    if posixpath.isabs(path) or path == ".." or path.startswith("../") or "\0" in path:
        return False
    parent = os.path.realpath(os.path.join(root, os.path.dirname(path) or "."))
    return parent == str(root) or parent.startswith(str(root) + os.sep)
