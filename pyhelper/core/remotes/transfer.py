"""`xp push`, `xp fetch`, `xp pull` and the objects experiments carry: moving cache objects to and from a remote.

Only what the other side lacks moves (one listing per prefix folder), `jobs` at a time. Every object a
download brings is checked (its md5 recomputed; a manifest's entries checked to stay inside their folder)
before it is renamed into the cache, read-only: a corrupted or forged object on a remote never enters it.
A transfer stopped half way is finished by running it again (what arrived is kept; a half object never
has its final name). A directory's manifest is uploaded after its files and downloaded before them (its
files are known from it), and enters the cache last: a manifest in the cache promises its files.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.storage.cache import OBJECT_TEMP_PREFIX, Cache
from pyhelper.core.storage.hashing import HashInfo, is_md5
from pyhelper.errors import BadInput, XpError

if TYPE_CHECKING:
    from pyhelper.core.project import Project
    from pyhelper.core.remotes.storage import Storage
    from pyhelper.core.storage.outputs import Recorded

Progress = Callable[[int, int], None]
"""Called with (objects done, objects to move) as a transfer goes."""

TRIES = 3
"""How often one object is tried before the transfer reports it failed (a flaky network, a busy server)."""


@dataclass(frozen=True)
class Transferred:
    """What a push or fetch did."""

    moved: int
    """Objects uploaded or downloaded."""
    size: int
    """Their bytes."""
    already: int
    """Objects the other side had already."""
    missing: tuple[str, ...] = ()
    """md5s neither side has (a push: not in this cache; a fetch: not on the remote)."""
    corrupt: tuple[str, ...] = ()
    """md5s the remote holds with other bytes than their names say (a fetch refused them)."""
    failed: tuple[str, ...] = ()
    """md5s that could not be moved after TRIES (the error of the first is in `error`)."""
    error: str = ""


def default_jobs() -> int:
    """DVC's default: four transfers per CPU (at most 64)."""
    return min(64, 4 * (os.cpu_count() or 1))


def _check_jobs(jobs: int | None) -> int:
    if jobs is None:
        return default_jobs()
    if not 1 <= jobs <= 256:
        raise BadInput(f"-j must be between 1 and 256 (got {jobs})", hint="pass -j N, e.g. -j 8")
    return jobs


def _unique(infos: Iterable[HashInfo]) -> list[HashInfo]:
    seen: dict[str, HashInfo] = {}
    for info in infos:
        if is_md5(info.md5) and not info.legacy:  # DVC 2's objects live in the old layout: not pushed here.
            seen.setdefault(info.md5, info)
    return list(seen.values())


def _run(work: list[str], jobs: int, one: Callable[[str], int], progress: Progress | None
         ) -> tuple[int, list[str], str]:
    """Runs `one` on every md5, `jobs` at a time, each tried TRIES times; (bytes moved, failed md5s, first error)."""
    done = 0
    moved = 0
    failed: list[str] = []
    first_error = ""
    lock = threading.Lock()

    def attempt(md5: str) -> None:
        nonlocal done, moved, first_error
        for n in range(1, TRIES + 1):
            try:
                size = one(md5)
                break
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) or n == TRIES:
                    with lock:
                        failed.append(md5)
                        first_error = first_error or f"{md5}: {exc.strerror or exc}"
                        done += 1
                    if progress:
                        progress(done, len(work))
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                        raise  # A full or read-only disk: nothing after this one can succeed.
                    return
                time.sleep(0.2 * 2 ** (n - 1))
        with lock:
            done += 1
            moved += size
        if progress:
            progress(done, len(work))

    if not work:
        return 0, [], ""
    from concurrent.futures import ThreadPoolExecutor  # Only when something moves: a no-op push stays quick.

    with ThreadPoolExecutor(max_workers=min(jobs, len(work))) as pool:
        for future in [pool.submit(attempt, md5) for md5 in work]:
            future.result()
    return moved, failed, first_error


def push(project: Project, storage: Storage, infos: Iterable[HashInfo], *, jobs: int | None = None,
         progress: Progress | None = None) -> Transferred:
    """Uploads the objects of `infos` (a directory: its files, then its manifest) that the remote lacks."""
    jobs = _check_jobs(jobs)
    cache = Cache(project.cache_dir)
    files: list[str] = []
    manifests: list[str] = []
    missing: list[str] = []
    for info in _unique(infos):
        if info.isdir:
            entries = cache.manifest(info.md5)
            if entries is None:
                missing.append(info.md5)
                continue
            files.extend(md5 for _, md5 in entries)
            manifests.append(info.md5)
        else:
            files.append(info.md5)
    files = list(dict.fromkeys(files))
    wanted = files + manifests
    absent = storage.missing(wanted)
    todo_files = [md5 for md5 in files if md5 in absent]
    local_missing = [md5 for md5 in todo_files if not cache.object_path(md5).is_file()]
    missing.extend(local_missing)
    todo_files = [md5 for md5 in todo_files if md5 not in set(local_missing)]

    def upload(md5: str) -> int:
        source = cache.object_path(md5)
        storage.upload(source, md5)
        return source.stat().st_size

    total = [*todo_files, *(m for m in manifests if m in absent)]
    counter = _Counter(len(total), progress)
    size, failed, error = _run(todo_files, jobs, upload, counter.files)
    # A manifest goes up only once all its files are there: a remote's manifest promises them.
    broken = set(failed) | set(local_missing)
    ready = [m for m in manifests if m in absent and not (set(md5 for _, md5 in cache.manifest(m) or []) & broken)]
    more, failed_manifests, error2 = _run(ready, jobs, upload, counter.manifests)
    return Transferred(len(todo_files) + len(ready) - len(failed) - len(failed_manifests), size + more,
                       len(wanted) - len(absent), tuple(missing), (), tuple(failed + failed_manifests),
                       error or error2)


class _Counter:
    """One progress count over the two rounds of a transfer (files, then manifests)."""

    def __init__(self, total: int, progress: Progress | None):
        self.total = total
        self.progress = progress
        self.first = 0

    def files(self, done: int, _: int) -> None:
        self.first = done
        if self.progress:
            self.progress(done, self.total)

    def manifests(self, done: int, _: int) -> None:
        if self.progress:
            self.progress(self.first + done, self.total)


def fetch(project: Project, storage: Storage, infos: Iterable[HashInfo], *, jobs: int | None = None,
          progress: Progress | None = None) -> Transferred:
    """Downloads into the cache the objects of `infos` it lacks, each verified before it enters."""
    from pyhelper.core.storage.hashing import StatIndex

    jobs = _check_jobs(jobs)
    # With the stat index: objects already here are not hashed again, and what arrives is remembered as
    # verified (its md5 was computed as it was written), so the checkout after a pull reads it once.
    index = StatIndex(project.ensure_xp_dir() / "index.db")
    try:
        return _fetch(project, storage, infos, jobs, progress, Cache(project.cache_dir, index))
    finally:
        index.close()


def _fetch(project: Project, storage: Storage, infos: Iterable[HashInfo], jobs: int, progress: Progress | None,
           cache: Cache) -> Transferred:
    wanted = [info for info in _unique(infos) if not cache.has(info)]
    manifests = [info.md5 for info in wanted if info.isdir and cache.manifest(info.md5) is None]
    files = [info.md5 for info in wanted if not info.isdir]
    absent = storage.missing(manifests) if manifests else set()
    corrupt: list[str] = []
    listings: dict[str, bytes] = {}
    for md5 in manifests:
        if md5 in absent:
            continue
        data = _download_manifest(storage, cache, md5)
        if data is None:
            corrupt.append(md5)
        else:
            listings[md5] = data
    for info in wanted:
        if not info.isdir:
            continue
        entries = cache.manifest(info.md5)
        if entries is None and info.md5 in listings:
            entries = [(e["relpath"], e["md5"]) for e in json.loads(listings[info.md5])]
        files.extend(md5 for _, md5 in entries or [])
    files = [md5 for md5 in dict.fromkeys(files) if not cache.object_path(md5).is_file()]
    absent |= storage.missing(files) if files else set()
    todo = [md5 for md5 in files if md5 not in absent]

    def download(md5: str) -> int:
        target = cache.object_path(md5)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f"{OBJECT_TEMP_PREFIX}{os.getpid()}-")
        os.close(fd)
        tmp = Path(name)
        try:
            if storage.download(md5, tmp) != md5:
                with lock:
                    corrupt.append(md5)
                return 0
            size = tmp.stat().st_size
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
            with lock:
                arrived.append((target, md5))
            return size
        except FileNotFoundError:
            with lock:
                absent.add(md5)  # Listed a moment ago, gone now: as missing as one never pushed.
            return 0
        finally:
            tmp.unlink(missing_ok=True)

    lock = threading.Lock()
    arrived: list[tuple[Path, str]] = []
    size, failed, error = _run(todo, jobs, download, progress)
    from pyhelper.core.storage.cache import vouch

    for target, md5 in arrived:  # In this thread: the index's database is not shared between threads.
        cache.remember(target, md5)
        vouch(target)
    # The manifests enter the cache last, and only when every file they list arrived.
    bad = set(failed) | set(corrupt) | absent
    for md5, data in listings.items():
        if {e["md5"] for e in json.loads(data)} & bad:
            continue
        _enter(cache, md5, data)
    moved = len(todo) - len(failed) - len([m for m in corrupt if m in set(todo)]) - len(absent & set(todo))
    return Transferred(moved + len(listings), size, len(files) - len(todo), tuple(sorted(absent)),
                       tuple(corrupt), tuple(failed), error)


def _download_manifest(storage: Storage, cache: Cache, md5: str) -> bytes | None:
    """The manifest's bytes, checked (md5 of the bytes, entries inside their folder); None when it is corrupt."""
    from pyhelper.core.storage.cache import _check_manifest

    with tempfile.TemporaryDirectory(prefix="xp-manifest-") as folder:
        tmp = Path(folder) / "m"
        storage.download(md5, tmp)  # Its md5 is checked below, on the bytes read back (it is small).
        if tmp.stat().st_size > 256 << 20:
            return None
        data = tmp.read_bytes()
    if hashlib.md5(data).hexdigest() != md5.removesuffix(".dir"):
        return None
    try:
        listing = json.loads(data)
        entries = [(entry["relpath"], entry["md5"]) for entry in listing]
    except (ValueError, KeyError, TypeError):
        return None
    try:
        _check_manifest(Path(f"{md5} on the remote"), entries)
    except BadInput:
        return None
    return data


def _enter(cache: Cache, md5: str, data: bytes) -> None:
    """Writes a verified manifest into the cache (atomically, read-only)."""
    from pyhelper.core.storage.cache import _write_object

    target = cache.object_path(md5)
    if not target.exists():
        _write_object(target, lambda tmp: tmp.write_bytes(data))


def workspace_outputs(project: Project) -> list[Recorded]:
    """The cached outputs the workspace's dvc.lock files and `.dvc` files record (what `dvc push` pushes)."""
    from pyhelper.core.pipeline.lockfile import read_locks
    from pyhelper.core.storage.outputs import Recorded

    pipeline = project.pipeline()
    found: list[Recorded] = []
    locks = read_locks(project.root, pipeline)
    for address, stage in pipeline.stages.items():
        entry = locks.get(address)
        if entry is None:
            continue
        cached = {out.path for out in stage.outs if out.cache}
        for path, info in entry.outs.items():
            if path in cached:
                found.append(Recorded(stage.repo_path(path), info, "dvc.lock"))
    for data in pipeline.data:
        found.extend(Recorded(out.path, out.hash, data.path) for out in data.outs if out.hash is not None and out.cache)
    return found


def select(outputs: list[Recorded], targets: list[str], *, project: Project | None = None, with_deps: bool = False,
           glob: bool = False, recursive: bool = False) -> list[Recorded]:
    """The outputs named by `targets`, all without targets. A target is a path (an output, a folder holding
    outputs, a `.dvc` file) or, given the project, a stage (`train`, `sub/dvc.yaml:train`): its outputs. As DVC's
    push/fetch/pull: `with_deps` adds what the named stages depend on, upstream (their outputs and tracked data);
    `glob` reads targets as shell patterns over the work tree's files (as DVC: `**` too, not stages);
    `recursive` reads them as folders."""
    import glob as globbing

    if not targets:
        return outputs
    chosen: list[Recorded] = []
    for target in targets:
        clean = target.rstrip("/").removesuffix(".dvc") if target.endswith(".dvc") else target.rstrip("/")
        clean = clean.removeprefix("./")
        if glob and project is not None:
            found = {path.rstrip("/").removesuffix(".dvc")
                     for path in globbing.glob(target, root_dir=project.root, recursive=True)}
            matched = [o for o in outputs if o.path in found]
        elif recursive:
            matched = [o for o in outputs if clean in ("", ".") or o.path.startswith(clean + "/")
                       or o.source.startswith(clean + "/")]
        else:
            matched = [o for o in outputs if o.path == clean or o.path.startswith(clean + "/") or o.source == target]
        if project is not None and not matched and not glob:
            matched += _stage_outputs(project, outputs, target, with_deps=with_deps, glob=glob, recursive=recursive)
        if not matched:
            raise BadInput(f"'{target}' is not an output, tracked data or stage of this project",
                           hint="name a path dvc.lock or a .dvc file records, or a stage (see `xp status`)"
                           + ("; quote a pattern so the shell leaves it alone" if glob else ""))
        chosen.extend(matched)
    return list({o.path: o for o in chosen}.values())


def _stage_outputs(project: Project, outputs: list[Recorded], target: str, *, with_deps: bool, glob: bool,
                   recursive: bool) -> list[Recorded]:
    """The recorded outputs of the stages `target` names (and, `with_deps`, of everything upstream of them, with
    the tracked data they read); [] when it names no stage."""
    from pyhelper.core.pipeline import graph

    pipeline = project.pipeline()
    try:
        stages = graph.select(pipeline, project.root, [target],
                              graph.Selection(single_item=not with_deps, glob=glob, recursive=recursive), check=False)
    except XpError:
        return []  # Not a stage: a path target moves that path alone, --with-deps or not (as DVC).
    paths = {stage.repo_path(out.path) for stage in stages for out in stage.outs}
    if with_deps:
        deps = [stage.repo_path(dep) for stage in stages for dep in stage.deps]
        paths.update(out.path for data in pipeline.data for out in data.outs
                     if any(_covers(dep, out.path) or _covers(out.path, dep) for dep in deps))
    return [o for o in outputs if o.path in paths]


def _covers(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def experiment_infos(project: Project, revs: list[str]) -> list[HashInfo]:
    """What the experiments at `revs` need: every output their trees record, and their checkpoints' persisted
    outputs (from the commits' trailers)."""
    from pyhelper.core.git.gitcore import lookup_commit
    from pyhelper.core.git.gitrepo import open_repo
    from pyhelper.core.queue.remote_outputs import wanted
    from pyhelper.core.storage.outputs import recorded_outputs

    repo = open_repo(project)
    infos: list[HashInfo] = []
    for rev in revs:
        try:
            commit = lookup_commit(repo, rev)
        except (KeyError, ValueError):
            continue
        infos.extend(out.info for out in recorded_outputs(project, repo, commit.tree, strict=False))
    infos.extend(wanted(project, revs))
    return _unique(infos)


def problems(result: Transferred, storage: Storage, *, pushing: bool) -> XpError | None:
    """The error a transfer ends with, or None when everything that should move did."""
    if result.corrupt:
        return BadInput(f"{len(result.corrupt)} object(s) on remote {storage.label} do not hold what their names say "
                        f"(e.g. {result.corrupt[0]}); they were not used",
                        hint="delete them there and push them again from a machine that has them")
    if result.failed:
        return XpError(f"{len(result.failed)} object(s) could not be "
                       f"{'uploaded to' if pushing else 'downloaded from'} {storage.label}: {result.error}",
                       hint="run the same command again: what was moved is kept")
    return None


@dataclass(frozen=True)
class Carried:
    """What `exp push`/`exp pull` moved of the experiments' outputs: the remote, and the transfer."""

    storage: Storage
    result: Transferred

    def note(self, *, pushing: bool) -> str:
        """The sentence saying it."""
        verb = "pushed to" if pushing else "fetched from"
        text = f"Outputs: {self.result.moved} object(s) {verb} remote {self.storage.label}, {self.result.already} " \
               "already there."
        if self.result.missing:
            where = "in this cache (`xp repro` rebuilds them)" if pushing else "on the remote"
            text += f" {len(self.result.missing)} object(s) are not {where}."
        return text


NO_REMOTE_NOTE = ("Outputs stayed where they are: no remote is configured "
                  "(add one with `xp remote add -d NAME PATH`, then `xp exp push` again).")


def carry(project: Project, revs: list[str], *, pushing: bool, remote: str | None = None, jobs: int | None = None,
          progress: Progress | None = None, as_committed: bool = False) -> Carried | None:
    """Pushes (or fetches) the outputs the experiments at `revs` need to (or from) the remote `remote` (default:
    the default remote); None when no remote is named and none is the default. A problem raises.
    `as_committed`: the remotes as the first experiment's commit configures them (a worker's mirror has no
    work tree)."""
    from pyhelper.core.remotes.config import read_remotes, remotes_of_commit
    from pyhelper.core.remotes.storage import open_storage

    remotes = remotes_of_commit(project, revs[0]) if as_committed and revs else read_remotes(project)
    if remote is None and remotes.default is None:
        return None
    storage = open_storage(remotes.get(remote), create=pushing)
    infos = experiment_infos(project, revs)
    move = push if pushing else fetch
    result = move(project, storage, infos, jobs=jobs, progress=progress)
    error = problems(result, storage, pushing=pushing)
    if error is not None:
        raise error
    return Carried(storage, result)


def _there(cache: Cache, info: HashInfo) -> bool:
    """True when the object's file (a folder: its listing and every file in it) exists, without reading it."""
    if not cache.object_path(info.md5).is_file():
        return False
    if not info.isdir:
        return True
    return all(cache.object_path(md5).is_file() for _, md5 in cache.manifest(info.md5) or [])


def fetch_missing(project: Project, infos: Iterable[HashInfo], *,
                  progress: Progress | None = None) -> Transferred | None:
    """Before a checkout: what the cache lacks of `infos` comes from the default remote, when one is configured.
    Not reaching it (or a corrupt object there) is said in a Notice, never an error: the checkout goes on
    with what the cache has. None when nothing was missing or no default remote is configured."""
    import warnings

    from pyhelper.core.remotes.config import read_remotes
    from pyhelper.core.remotes.storage import open_storage
    from pyhelper.errors import Notice

    cache = Cache(project.cache_dir)
    # Only what is absent: an object that is there but rotten is the checkout's to refuse (`CorruptObject`,
    # said as such), not something to drop quietly here.
    lacking = [info for info in _unique(infos) if not _there(cache, info)]
    if not lacking:
        return None
    try:
        remotes = read_remotes(project)
        if remotes.default is None:
            return None
        storage = open_storage(remotes.get(None))
        result = fetch(project, storage, lacking, progress=progress)
    except (XpError, OSError) as exc:
        warnings.warn(Notice(f"outputs missing from the cache could not be fetched from the default remote: "
                             f"{exc}"), stacklevel=2)
        return None
    error = problems(result, storage, pushing=False)
    if error is not None:
        warnings.warn(Notice(error.one_line()), stacklevel=2)
    return result


def cloud_status(project: Project, storage: Storage, outputs: list[Recorded]) -> dict[str, str]:
    """`dvc status -c`: each output that is not on both sides, by path — "new" (only in this cache, push it),
    "deleted" (only on the remote, pull it), "missing" (on neither). One listing per prefix folder."""
    cache = Cache(project.cache_dir)
    objects: list[tuple[str, list[str]]] = []  # A path can hold other objects in other revisions (-a/-T/-A).
    for out in outputs:
        if out.info.legacy or not is_md5(out.info.md5):
            continue
        md5s = [out.info.md5]
        if out.info.isdir:
            entries = cache.manifest(out.info.md5)
            md5s += [md5 for _, md5 in entries or []]
        objects.append((out.path, md5s))
    absent = storage.missing({md5 for _, md5s in objects for md5 in md5s})
    result: dict[str, str] = {}
    for path, md5s in objects:
        local = all(cache.object_path(md5).is_file() for md5 in md5s)
        remote = not any(md5 in absent for md5 in md5s)
        if not (local and remote):  # One revision's object out of sync is enough to name the path.
            result.setdefault(path, "new" if local else "deleted" if remote else "missing")
    return result


def revisions_outputs(project: Project, *, branches: bool = False, tags: bool = False,
                      all_commits: bool = False) -> list[Recorded]:
    """DVC's `-a` (the tip of every branch), `-T` (every tag) and `-A` (every commit of every branch and tag):
    the cached outputs those commits record, with the workspace's as DVC adds them; each object once.
    Experiments' own refs are `exp push`'s business."""
    from pyhelper.core.git.gitcore import native
    from pyhelper.core.git.gitrepo import open_repo
    from pyhelper.core.storage.outputs import recorded_outputs

    git = native()
    repo = open_repo(project)
    tips: list[Any] = []
    for reference in repo.references.iterator():
        name = reference.name
        if not ((name.startswith("refs/heads/") and (branches or all_commits))
                or (name.startswith("refs/tags/") and (tags or all_commits))):
            continue
        try:
            tips.append(reference.peel(git.Commit))
        except (ValueError, KeyError, git.GitError):
            continue  # A tag of a tree or blob: no commit to read.
    commits: list[Any] = tips
    if all_commits and tips:
        walker = repo.walk(tips[0].id)
        for tip in tips[1:]:
            walker.push(tip.id)
        commits = list(walker)
    found: dict[str, Recorded] = {}
    seen_trees: set[str] = set()
    for commit in commits:
        if str(commit.tree_id) in seen_trees:
            continue
        seen_trees.add(str(commit.tree_id))
        for out in recorded_outputs(project, repo, commit.tree, strict=False):
            found.setdefault(out.info.md5, out)
    try:
        for out in workspace_outputs(project):
            found.setdefault(out.info.md5, out)
    except XpError:
        pass  # A workspace whose dvc.yaml does not parse: the commits' outputs still move.
    return list(found.values())


@dataclass(frozen=True)
class PulledFirst:
    """What `repro --pull` / `exp run --pull` brought from the default remote before running."""

    objects: Transferred
    """The workspace's outputs and tracked data the cache lacked."""
    checked_out: tuple[str, ...]
    """Outputs that were absent from the work tree and are now in place."""
    runs_note: str
    """The run-cache's sentence ('' without it)."""


def pull_first(project: Project, *, run_cache: bool, checkout_absent: bool,
               progress: Progress | None = None) -> PulledFirst:
    """DVC's `repro --pull`: from the default remote, what the workspace's locks and `.dvc` files record and the
    cache lacks; with `checkout_absent`, outputs missing from the work tree are put in place (a file that is
    there, changed or not, is left alone: the stage's own judgement decides); with `run_cache`, the remote's
    run-cache entries too, so a stage someone else ran is restored instead of run."""
    from pyhelper.core.remotes.config import read_remotes
    from pyhelper.core.remotes.storage import open_storage
    from pyhelper.core.storage.outputs import checkout

    remotes = read_remotes(project)
    if remotes.default is None:
        raise BadInput("--pull needs a default remote to pull from", hint="add one with `xp remote add -d NAME URL`")
    storage = open_storage(remotes.get(None))
    recorded = workspace_outputs(project)
    moved = fetch(project, storage, [o.info for o in recorded], progress=progress)
    placed: tuple[str, ...] = ()
    if checkout_absent:
        absent = [o for o in recorded if not os.path.lexists(project.root / o.path)]
        placed = checkout(project, absent).outputs
    note = ""
    if run_cache:
        from pyhelper.core.remotes.run_cache_transfer import fetch_runs

        note = fetch_runs(project, storage, progress=progress).note(pushing=False, label=storage.label)
    return PulledFirst(moved, tuple(placed), note)
