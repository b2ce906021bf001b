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
    """Checks out the tree's cached outputs into `project.root`, keeping what is replaced in the cache."""
    from pyhelper.core.cache import Cache
    from pyhelper.core.dvcfile import parse_pipeline
    from pyhelper.core.hashing import StatIndex
    from pyhelper.core.lockfile import parse_lock
    from pyhelper.errors import XpError

    if _entry(tree, "dvc.lock") is None:
        return CheckedOut((), ())

    def read(rel: str) -> str | None:
        found = _entry(tree, rel)
        return repo[found.id].data.decode("utf-8", errors="replace") if found is not None else None

    try:
        lock = parse_lock(read("dvc.lock") or "")
        pipeline = parse_pipeline(read)
    except XpError:
        return CheckedOut((), ())
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    cache = Cache(project.cache_dir, index)
    done: list[str] = []
    missing: list[str] = []
    try:
        for name, entry in lock.items():
            stage = pipeline.stages.get(name)
            for out_path, info in entry.outs.items():
                path = stage.repo_path(out_path) if stage else out_path
                if _entry(tree, path) is not None:
                    continue  # Git holds it: it came with the other files.
                target = project.root / path
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
