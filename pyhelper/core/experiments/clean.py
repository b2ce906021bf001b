"""`xp exp clean`: remove leftover private work trees and cache objects nothing refers to.

An object is kept when any of these refers to it: the workspace's dvc.lock, the dvc.lock of any
commit reachable from any ref (branches, tags, remotes, experiments), the persisted outputs a
reachable checkpoint commit lists, or a run-cache record. In a
project whose cache is DVC's (`.dvc/` exists) objects are left alone: DVC's own `.dvc` files
may refer to them, and `dvc gc` is the tool that knows.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from dataclasses import dataclass

from pyhelper.core.git.gitcore import lookup_blob, native
from pyhelper.core.git.gitrepo import open_repo
from pyhelper.core.project import Project


@dataclass(frozen=True)
class Cleaned:
    """What was (or, dry, would be) removed."""

    work_trees: tuple[str, ...]
    objects: int
    bytes: int
    cache_skipped: str = ""
    """Why cache objects were not looked at, if they were not."""
    temp_files: int = 0
    temp_bytes: int = 0
    """Temporary files a killed copy left in the cache (a checkpoint's output, an object being written)."""


def clean(project: Project, *, dry: bool = False) -> Cleaned:
    """Removes idle private work trees and unreferenced cache objects (nothing, when `dry`)."""
    trees = _idle_work_trees(project, dry)
    temps, temp_bytes = _stale_temps(project, dry)
    if (project.main_root / ".dvc").is_dir():
        return Cleaned(trees, 0, 0, "the cache is DVC's; use `dvc gc` to clean it", temps, temp_bytes)
    keep = _referenced(project)
    files = project.cache_dir / "files" / "md5"
    count = size = 0
    if files.is_dir():
        for folder in files.iterdir():
            for obj in folder.iterdir():
                md5 = folder.name + obj.name
                if md5 in keep or obj.name.startswith(".tmp-"):
                    continue
                count += 1
                size += obj.stat().st_size
                if not dry:
                    obj.unlink()
    return Cleaned(trees, count, size, temp_files=temps, temp_bytes=temp_bytes)


STALE_AFTER_SECONDS = 3600
"""A temporary name without its writer's pid (made by an older xp) is stale after this long."""


def _stale_temps(project: Project, dry: bool) -> tuple[int, int]:
    """Removes xp's temporary files in the cache whose writer has gone: (count, bytes).

    Their names carry the writer's pid (`.tmp-xp-checkpoint-PID-…` at the cache's root,
    `.tmp-xp-PID-…` beside the objects): a file whose process still lives is being written and
    stays. Names from before the pid was in them are removed once an hour old. Only xp's names are
    touched, so a cache shared with DVC keeps DVC's own temporary files.
    """
    from pyhelper.core.processes import alive
    from pyhelper.core.storage.cache import writer_pid

    root = project.cache_dir
    folders = [root]
    objects = root / "files" / "md5"
    if objects.is_dir():
        folders += [f for f in objects.iterdir() if f.is_dir()]
    count = size = 0
    now = time.time()
    for folder in folders:
        try:
            names = [p for p in folder.iterdir() if p.name.startswith(".tmp-xp-")]
        except OSError:
            continue
        for path in names:
            try:
                st = path.lstat()
            except OSError:
                continue
            pid = writer_pid(path.name)
            if alive(pid) if pid is not None else now - st.st_mtime < STALE_AFTER_SECONDS:
                continue
            count += 1
            size += st.st_size
            if not dry:
                path.unlink(missing_ok=True)
    return count, size


def _idle_work_trees(project: Project, dry: bool) -> tuple[str, ...]:
    """Private work trees under .xp/tmp/ that no running process holds."""
    tmp = project.xp_dir / "tmp"
    removed = []
    if not tmp.is_dir():
        return ()
    for folder in sorted(p for p in tmp.iterdir() if p.is_dir()):
        lock_path = tmp / f"{folder.name}.lock"
        if lock_path.exists():
            with open(lock_path, "a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # A run is using it.
        elif time.time() - folder.stat().st_mtime < 3600:
            continue  # No lock yet: maybe a run still setting its work tree up.
        removed.append(project.rel(folder))
        if not dry:
            shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
    return tuple(removed)


def _referenced(project: Project) -> set[str]:
    """Every md5 any dvc.lock (workspace or any reachable commit) or run-cache record refers to."""
    git = native()

    from pyhelper.core.pipeline.lockfile import parse_lock
    from pyhelper.core.pipeline.run_cache import RunCache
    from pyhelper.core.storage.cache import Cache
    from pyhelper.errors import XpError

    md5s: set[str] = set()
    lock_texts: list[str] = []
    if project.lock_path.is_file():
        lock_texts.append(project.lock_path.read_text(encoding="utf-8"))
    repo = open_repo(project)
    seen_blobs: set[str] = set()
    tips = []
    for reference in repo.references.iterator():
        if reference.name.startswith("refs/notes/"):
            continue
        try:
            tips.append(reference.peel(git.Commit).id)
        except (ValueError, KeyError, git.GitError):
            continue
    if tips:
        walker = repo.walk(tips[0])
        for tip in tips[1:]:
            walker.push(tip)
        from pyhelper.core.experiments.checkpoint import parse_trailer

        for found in walker:  # Each reachable commit once.
            checkpoint = parse_trailer(found.message)
            if checkpoint is not None:
                md5s.update(info["md5"] for info in (checkpoint.get("outs") or {}).values())
            try:
                entry = found.tree["dvc.lock"]
            except KeyError:
                continue
            if entry.type_str == "blob" and str(entry.id) not in seen_blobs:
                seen_blobs.add(str(entry.id))
                lock_texts.append(lookup_blob(repo, entry.id).data.decode("utf-8", errors="replace"))
    for text in lock_texts:
        try:
            entries = parse_lock(text)
        except XpError:
            continue
        for lock_entry in entries.values():
            md5s.update(info.md5 for info in (*lock_entry.outs.values(), *lock_entry.deps.values()))
    runs = RunCache(project.xp_dir / "runs.db")
    try:
        for record in runs.list():
            md5s.update(out.hash.md5 for out in record.outs)
    finally:
        runs.close()
    cache = Cache(project.cache_dir)
    for md5 in [m for m in md5s if m.endswith(".dir")]:
        md5s.update(file_md5 for _, file_md5 in cache.manifest(md5) or [])
    return md5s

