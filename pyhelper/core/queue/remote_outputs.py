"""Outputs of remote runs brought home: from the shared cache dir into the project's own cache.

A remote worker saves a run's cached outputs (and its checkpoints' persisted outputs) in the
shared `cache-dir` of `.xp/config`; the experiment's commits, which `xp exp pull` (or the
auto-fetch when an entry finishes) brings home, only name them by md5. Copying the objects they
name into the local cache is what lets `xp exp apply NAME` restore a remote experiment's outputs.
Each copy is checked (its md5 recomputed) and renamed into place read-only, as the cache's own.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.git.gitcore import lookup_blob, lookup_commit
from pyhelper.core.project import Project
from pyhelper.core.storage.cache import Cache
from pyhelper.core.storage.hashing import HashInfo, file_md5

if TYPE_CHECKING:
    import pygit2

_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?")
"""What a cache object's name may be. md5s come from pulled commits (locks, checkpoint trailers) and the shared
cache's manifests: anything else (`../../x.dir`) would make a path outside both caches, and is skipped."""


def _lock_outs(repo: pygit2.Repository, commit: pygit2.Commit) -> list[HashInfo]:
    """The outputs the commit's dvc.lock records (cached or not: objects that are not shared are skipped)."""
    from pyhelper.core.pipeline.lockfile import parse_lock
    from pyhelper.errors import XpError

    try:
        blob = lookup_blob(repo, commit.tree["dvc.lock"].id)
    except KeyError:
        return []
    try:
        lock = parse_lock(blob.data.decode("utf-8", "replace"))
    except XpError:
        return []
    return [info for entry in lock.values() for info in entry.outs.values()]


def wanted(project: Project, revs: list[str]) -> list[HashInfo]:
    """What the experiments at `revs` (and their checkpoints) need from a cache: lock outputs and persisted outputs."""
    from pyhelper.core.experiments.checkpoint import parse_trailer
    from pyhelper.core.git.gitrepo import open_repo

    repo = open_repo(project)
    found: dict[str, HashInfo] = {}
    for rev in revs:
        commit = lookup_commit(repo, rev) if rev in repo else None
        if commit is not None:  # The experiment's own outputs (a checkpoint's dvc.lock may be older).
            for info in _lock_outs(repo, commit):
                found.setdefault(info.md5, info)
        while commit is not None:
            data = parse_trailer(commit.message)
            if data is None and str(commit.id) != rev:
                break  # Below the experiment's own commits: the baseline's outputs are the user's business.
            outs = (data or {}).get("outs", {})
            for info in outs.values() if isinstance(outs, dict) else ():
                if isinstance(info, dict) and isinstance(info.get("md5"), str) and _MD5.fullmatch(info["md5"]):
                    size = info.get("size", 0)
                    found.setdefault(info["md5"], HashInfo(md5=info["md5"], size=size if type(size) is int else 0))
            parents = commit.parent_ids
            commit = lookup_commit(repo, parents[0]) if parents else None
    return [info for info in found.values() if _MD5.fullmatch(info.md5)]


def copy_home(project: Project, shared_dir: str, revs: list[str]) -> tuple[int, list[str]]:
    """Copies into the project's cache the objects the experiments at `revs` need that only `shared_dir`
    has; (objects copied, md5s neither cache has)."""
    shared = Cache(Path(shared_dir))
    local = Cache(project.cache_dir)
    copied = 0
    missing: list[str] = []
    for info in wanted(project, revs):
        if local.has(info):
            continue
        md5s = [info.md5]
        if info.isdir:
            entries = shared.manifest(info.md5)
            if entries is None:
                missing.append(info.md5)
                continue
            md5s = [md5 for _, md5 in entries if isinstance(md5, str) and _MD5.fullmatch(md5)] + [info.md5]
            # The manifest last: it promises the files.
        for md5 in md5s:
            if local.object_path(md5).is_file():
                continue
            if not shared.object_path(md5).is_file():
                missing.append(md5)
                continue
            _copy_object(shared.object_path(md5), local.object_path(md5), md5)
            copied += 1
    return copied, missing


def _copy_object(source: Path, target: Path, md5: str) -> None:
    """Copies one cache object through a temporary file, checks its md5 and renames it into place, read-only."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    os.close(fd)
    try:
        shutil.copyfile(source, name)
        if not md5.endswith(".dir") and file_md5(name) != md5:
            raise OSError(f"the shared cache's object {source} does not hold what its name says")
        if md5.endswith(".dir"):  # A manifest: its own md5 is of its JSON, as the cache computes it.
            _check_manifest(name, md5)
        os.chmod(name, 0o444)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _check_manifest(path: str, md5: str) -> None:
    """Refuses a `.dir` manifest whose bytes do not hash to its name (DVC hashes the manifest's file)."""
    if file_md5(path) != md5.removesuffix(".dir"):
        raise OSError(f"the shared cache's manifest {md5} does not hold what its name says")


def outputs_home(project: Project, revs: list[str]) -> tuple[int, list[str]] | None:
    """Copies the outputs of these experiments from the shared cache dir of `.xp/config`; None when none is set."""
    from pyhelper.core.queue.backend import config_path, read_config

    if not revs or not config_path(project).is_file():
        return None
    config = read_config(project)
    if not config.cache_dir or not Path(config.cache_dir).is_dir():
        return None
    return copy_home(project, config.cache_dir, revs)
