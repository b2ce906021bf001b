"""`--run-cache` on push, fetch, pull, exp push and exp pull: DVC's run-cache entries to and from a remote.

A push sends every entry this machine has (xp's recorded runs as DVC's entries, and DVC's own in the cache
folder) that the remote lacks, each after the objects its outputs are (only those the remote lacks, as
`transfer.push` moves them): an entry on a remote promises its outputs. A fetch brings the entries this
machine lacks (one listing of `runs/`), checks each (`dvc_run_cache.parse_entry`) before it is kept in the
cache folder, records the runs of this project's stages in xp's run-cache, and fetches the objects of the
entries' outputs (md5-checked as every download is), so `xp repro` (or `dvc repro`) restores them instead of
running.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyhelper.core.pipeline import dvc_run_cache as entries
from pyhelper.core.pipeline.run_cache import RunCache
from pyhelper.core.remotes import transfer
from pyhelper.core.storage.cache import Cache
from pyhelper.errors import Notice

if TYPE_CHECKING:
    from pyhelper.core.project import Project
    from pyhelper.core.remotes.storage import Storage


@dataclass(frozen=True)
class RunsMoved:
    """What a run-cache push or fetch did."""

    moved: int
    """Entries uploaded or downloaded."""
    already: int
    """Entries the other side had already."""
    skipped: tuple[str, ...]
    """Entries not used (each said in a Notice with why)."""
    recorded: int
    """Runs of this project's stages recorded in xp's run-cache (a fetch)."""
    objects: transfer.Transferred
    """The transfer of the objects the entries' outputs are."""
    waiting: int = 0
    """Entries not pushed because an object of theirs could not be (a push)."""

    def note(self, *, pushing: bool, label: str) -> str:
        """The sentence saying it."""
        verb = "pushed to" if pushing else "fetched from"
        text = f"Run-cache: {self.moved} entr{'y' if self.moved == 1 else 'ies'} {verb} {label}, {self.already} " \
               f"already there"
        if not pushing:
            text += f"; {self.recorded} run(s) of this project's stages recorded"
        text += f"; their outputs: {self.objects.moved} object(s) {verb} it, {self.objects.already} already there."
        if self.waiting:
            text += f" {self.waiting} entr{'y' if self.waiting == 1 else 'ies'} stayed here: their outputs are " \
                    "not in this cache."
        return text


def _warn(name: str, where: str, why: str) -> None:
    warnings.warn(Notice(f"run-cache entry runs/{name} {where} was skipped: {why}"), stacklevel=3)


def push_runs(project: Project, storage: Storage, *, jobs: int | None = None,
              progress: transfer.Progress | None = None) -> RunsMoved:
    """Uploads every local entry the remote lacks, after the objects of its outputs."""
    runs = RunCache(project.ensure_xp_dir() / "runs.db")
    try:
        found, bad = entries.local_entries(project, runs)
    finally:
        runs.close()
    for name, why in bad:
        _warn(name, "in this cache", why)
    objects = transfer.push(project, storage, [info for e in found for info in e.infos], jobs=jobs,
                            progress=progress)
    error = transfer.problems(objects, storage, pushing=True)
    if error is not None:
        raise error
    # An entry goes up only when all its objects are there: a remote's entry promises its outputs.
    unusable = set(objects.missing) | set(objects.failed)
    cache = Cache(project.cache_dir)
    ready = [e for e in found if not (_objects(cache, e) & unusable)]
    present = set(storage.runs())
    todo = [e for e in ready if e.name not in present]
    by_name = {e.name: e for e in todo}

    def upload(name: str) -> int:
        with tempfile.TemporaryDirectory(prefix="xp-run-") as folder:
            path = Path(folder) / "entry"
            path.write_text(by_name[name].text)
            storage.upload_run(path, name)
            return path.stat().st_size

    _, failed, first = transfer._run(list(by_name), transfer._check_jobs(jobs), upload, None)
    if failed:
        from pyhelper.errors import XpError

        raise XpError(f"{len(failed)} run-cache entr{'y' if len(failed) == 1 else 'ies'} could not be uploaded to "
                      f"{storage.label}: {first}", hint="run the same command again: what was moved is kept")
    return RunsMoved(len(todo), len(ready) - len(todo), tuple(n for n, _ in bad), 0, objects,
                     waiting=len(found) - len(ready))


def _objects(cache: Cache, entry: entries.Entry) -> set[str]:
    """The md5s an entry's outputs are (a folder: its listing and the files in it, as far as the cache knows)."""
    md5s: set[str] = set()
    for info in entry.infos:
        md5s.add(info.md5)
        if info.isdir:
            md5s.update(md5 for _, md5 in cache.manifest(info.md5) or [])
    return md5s


def fetch_runs(project: Project, storage: Storage, *, jobs: int | None = None,
               progress: transfer.Progress | None = None) -> RunsMoved:
    """Downloads the entries this machine lacks (each checked before it is kept), records the runs of this
    project's stages in xp's run-cache, and fetches the objects of the entries' outputs."""
    import time

    pipeline = project.pipeline()
    climb = entries.depth(pipeline)
    listed = storage.runs()
    skipped: list[str] = []
    names = []
    for name in listed:
        if entries.NAME.fullmatch(name) is None or name[:2] != name[3:5]:
            _warn(name[:200], f"on {storage.label}", "its name is not DVC's `ab/<sha256>/<sha256>`")
            skipped.append(name)
        else:
            names.append(name)
    local = entries.local_names(project)
    todo = [n for n in names if n not in local]
    arrived: dict[str, entries.Entry] = {}
    refused: dict[str, str] = {}
    lock = threading.Lock()

    def download(name: str) -> int:
        with tempfile.TemporaryDirectory(prefix="xp-run-") as folder:
            path = Path(folder) / "entry"
            size = storage.download_run(name, path, entries.MAX_ENTRY_BYTES)
            try:
                if size > entries.MAX_ENTRY_BYTES:
                    raise entries.BadEntry(f"it is larger than {entries.MAX_ENTRY_BYTES >> 20} MiB ({size} bytes)")
                entry = entries.parse_entry(name, path.read_bytes(), climb=climb)
            except entries.BadEntry as exc:
                with lock:
                    refused[name] = str(exc)
                return 0
        with lock:
            arrived[name] = entry
        return size

    _, failed, first = transfer._run(todo, transfer._check_jobs(jobs), download, None)
    for name, why in sorted(refused.items()):
        _warn(name, f"on {storage.label}", why)
        skipped.append(name)
    for entry in arrived.values():
        entries.write_local(project, entry)
    if failed:
        from pyhelper.errors import XpError

        raise XpError(f"{len(failed)} run-cache entr{'y' if len(failed) == 1 else 'ies'} could not be downloaded "
                      f"from {storage.label}: {first}", hint="run the same command again: what was moved is kept")
    # Every entry the remote has (those here before too: DVC may have fetched them) that is a run of one of this
    # project's stages goes into xp's run-cache, and its outputs into the cache.
    recorded = 0
    wanted = []
    runs = RunCache(project.ensure_xp_dir() / "runs.db")
    try:
        for name in names:
            found = arrived.get(name)
            if found is None and name in local:
                try:
                    found = entries.read_local(project, name, climb)
                except entries.BadEntry as exc:
                    _warn(name, "in this cache", str(exc))
                    continue
            if found is None:
                continue
            for stage in entries.stages_of(found, pipeline):
                entries.adopt(runs, found, stage, _mtime(entries.runs_dir(project) / name) or time.time())
                recorded += 1
            # Every entry's outputs, not only those of today's stages: a stage whose command takes a param
            # (`cmd: train.py ${lr}`) finds its other runs by DVC's key once the param is set (`repro.lookup`).
            wanted.extend(found.infos)
    finally:
        runs.close()
    objects = transfer.fetch(project, storage, wanted, jobs=jobs, progress=progress)
    error = transfer.problems(objects, storage, pushing=False)
    if error is not None:
        raise error
    return RunsMoved(len(arrived), len(names) - len(todo), tuple(skipped), recorded, objects)


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def carry_runs(project: Project, *, pushing: bool, remote: str | None = None, jobs: int | None = None,
               progress: transfer.Progress | None = None) -> tuple[RunsMoved, str] | None:
    """`exp push/pull --run-cache`: the run-cache to (or from) the remote `remote` (default: the default remote);
    (what moved, the remote's label), or None when no remote is named and none is the default."""
    from pyhelper.core.remotes.config import read_remotes
    from pyhelper.core.remotes.storage import open_storage

    remotes = read_remotes(project)
    if remote is None and remotes.default is None:
        return None
    storage = open_storage(remotes.get(remote), create=pushing)
    move = push_runs if pushing else fetch_runs
    return move(project, storage, jobs=jobs, progress=progress), storage.label
