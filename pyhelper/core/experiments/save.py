"""`xp exp save`: record the workspace as an experiment of HEAD, without running anything.

Also the one place an experiment commit is written (`record`), which `exp run` uses after
reproducing. HEAD, the index and branches are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pyhelper.core.experiments import names, notes
from pyhelper.core.git.gitrepo import exp_refs, head_commit, open_repo, signature, snapshot_tree
from pyhelper.core.git.refs import ExpRef
from pyhelper.core.project import Project, workspace_lock
from pyhelper.errors import BadInput, StateError, XpError

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.git.tmp_workspace import TmpWorkspace


_T = TypeVar("_T")


@dataclass(frozen=True)
class Experiment:
    """A recorded experiment."""

    ref: ExpRef
    rev: str
    """The experiment commit's hex id."""

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.ref.name


def commit_tree(repo: pygit2.Repository, tree: pygit2.Oid, *, parent: str, message: str) -> str:
    """Writes an experiment's (or a checkpoint's) commit of `tree` on `parent`, by the user's signature; no ref.
    Every experiment commit is made here: the worker's, the remote worker's, `exp run`'s and `exp save`'s."""
    from pyhelper.core.git.gitcore import native

    sig = signature(repo)
    return str(repo.create_commit(None, sig, sig, message, tree, [native().Oid(hex=parent)]))


def missing_object(repo: pygit2.Repository, commit: str, *, keep: bool = False) -> str | None:
    """The first object `commit` needs that the repository does not hold, or None; with `keep`, each new
    object's loose file is also dated a day ahead.

    Git writes a commit's new blobs and trees before any ref reaches them, and `git gc --prune=now`
    deletes every loose object it did not find reachable when it began (git documents the race): a
    commit written meanwhile loses its objects, even once its ref is set. `git prune` keeps a loose
    object whose mtime is later than its expiry (`now`), so xp dates what it just wrote in the
    future (`keep`), sets the ref, then looks again; what went missing in between is written anew.
    Only what differs from the first parent's tree is looked at (the parent is kept already).
    """
    from pyhelper.core.git.gitcore import native

    git = native()
    objects = _objects_dir(repo) if keep else None
    ahead = time.time() + KEEP_AHEAD_SECONDS

    def present(oid: pygit2.Oid) -> bool:
        if oid not in repo:
            return False
        if objects is not None:
            loose = objects / str(oid)[:2] / str(oid)[2:]
            try:
                os.utime(loose, (ahead, ahead))
            except FileNotFoundError:
                # Only in a pack: a repack that began before the ref drops it with the old pack if it was
                # unreachable then. A loose copy, dated ahead, outlives that repack and its prune.
                with contextlib.suppress(OSError, KeyError):
                    _write_loose(loose, *repo.odb.read(oid), ahead)
            except OSError:
                pass
        return True

    found = repo.get(commit)
    if not isinstance(found, git.Commit) or not present(found.id):
        return commit
    try:
        old_root: pygit2.Oid | None = found.parents[0].tree_id if found.parents else None
    except (KeyError, git.GitError):
        old_root = None
    stack: list[tuple[pygit2.Oid, pygit2.Oid | None]] = [(found.tree_id, old_root)]
    while stack:
        oid, old = stack.pop()
        if oid == old:
            continue
        tree = repo.get(oid)
        if not isinstance(tree, git.Tree) or not present(oid):
            return str(oid)
        old_tree = repo.get(old) if old is not None else None
        before = {e.name: e.id for e in old_tree} if isinstance(old_tree, git.Tree) else {}
        for entry in tree:
            if entry.filemode == 0o040000:
                stack.append((entry.id, before.get(entry.name)))
            elif entry.filemode != 0o160000 and entry.id != before.get(entry.name) and not present(entry.id):
                return str(entry.id)
    return None


def _write_loose(path: Path, kind: int, data: bytes, mtime: float) -> None:
    """Writes an object as git stores a loose one (zlib of "TYPE SIZE\\0DATA"), renamed into place."""
    import zlib

    name = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}[kind]
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(zlib.compress(name + b" " + str(len(data)).encode() + b"\0" + data))
    os.chmod(tmp, 0o444)
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)


KEEP_AHEAD_SECONDS = 24 * 3600
"""How far ahead xp dates the loose objects it has just written (a `prune --expire=now` keeps them)."""


def _common_dir(repo: pygit2.Repository) -> Path:
    """The repository's own git folder (a linked worktree's is its main repository's)."""
    git_dir = Path(repo.path)
    common = git_dir / "commondir"
    if common.is_file():
        git_dir = (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


def _objects_dir(repo: pygit2.Repository) -> Path:
    """The repository's object folder (a linked worktree's is its main repository's)."""
    return _common_dir(repo) / "objects"


GC_WAIT_SECONDS = 600.0
"""How long a record waits for a running `git gc` to finish before it writes anyway (dated-ahead objects)."""
_GC_STALE_SECONDS = 12 * 3600
"""Git ignores a `gc.pid` older than this (builtin/gc.c); so does xp."""

_gc_lock = threading.Lock()
_gc_holds: dict[Path, int] = {}


def _gc_holder(pid_file: Path) -> str | None:
    """Who holds git's gc lock `pid_file` ("PID HOST", as git writes it) if that process lives, else None."""
    from pyhelper.core.processes import alive, hostname

    try:
        text = pid_file.read_text(encoding="utf-8", errors="replace")
        age = time.time() - pid_file.stat().st_mtime
    except OSError:
        return None
    pid_text, _, host = text.strip().partition(" ")
    if age > _GC_STALE_SECONDS or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid() or (host.split()[0] if host else "") != hostname():
        return None  # Another machine's holder can't be checked; git itself then runs (`--force` semantics).
    return f"pid {pid}" if alive(pid) else None


def _take_gc_lock(pid_file: Path) -> bool:
    """Writes this process into git's `gc.pid` the way `git gc` does (through `gc.pid.lock`) unless a live
    process holds it; True when taken."""
    from pyhelper.core.processes import hostname

    lock = pid_file.with_name(pid_file.name + ".lock")
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False  # A gc is taking it right now.
    try:
        if _gc_holder(pid_file) is not None:
            os.close(fd)
            os.unlink(lock)
            return False
        os.write(fd, f"{os.getpid()} {hostname()}".encode())
        os.close(fd)
        os.replace(lock, pid_file)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        raise


@contextmanager
def gc_held(repo: pygit2.Repository) -> Iterator[None]:
    """Keeps `git gc` away while xp writes an experiment's objects and sets its ref.

    Holds git's own gc lock (`gc.pid`, with this pid and host, as `git gc` writes it): a `git gc` begun
    meanwhile stops with "gc is already running" (`git gc --auto` quietly). A gc that is running already is
    waited for (up to GC_WAIT_SECONDS; then xp writes anyway and relies on dating its objects ahead).
    Nested and concurrent holders of one process share the lock; the last one out removes the file.
    Nothing here is needed for correctness on an idle repository; a folder xp cannot write is left alone.
    """
    pid_file = _common_dir(repo) / "gc.pid"
    with _gc_lock:
        held = _gc_holds.get(pid_file, 0)
        if held:
            _gc_holds[pid_file] = held + 1
    if not held:
        deadline = time.monotonic() + GC_WAIT_SECONDS
        taken = False
        while True:
            try:
                taken = _take_gc_lock(pid_file)
            except OSError:
                break  # A read-only repository: nothing to keep away.
            if taken or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not taken:
            yield
            return
        with _gc_lock:
            _gc_holds[pid_file] = _gc_holds.get(pid_file, 0) + 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holds[pid_file] -= 1
            last = _gc_holds[pid_file] == 0
            if last:
                del _gc_holds[pid_file]
                with contextlib.suppress(OSError):
                    if pid_file.read_text(encoding="utf-8").split(" ")[0] == str(os.getpid()):
                        pid_file.unlink()


WRITE_TRIES = 5
"""How often a commit whose objects a concurrent gc deleted is written again before xp gives up."""


def written(make: Callable[[], _T]) -> _T:
    """Runs `make` (which writes blobs, then trees of them), again when git says an object it had just
    written is gone: a concurrent `git gc --prune=now` deleted it before the tree held it."""
    from pyhelper.core.git.gitcore import native

    git = native()
    for attempt in range(1, WRITE_TRIES + 1):
        try:
            return make()
        except (git.GitError, KeyError) as exc:
            # "invalid object": a blob it wrote was deleted before its tree; "not found": a repack swapped
            # the packs under libgit2, which finds the object again a moment later.
            # "failed to make directory": `git pack-refs --prune` removed an empty refs/ folder meanwhile.
            if not any(words in str(exc) for words in ("invalid object", "not found", "failed to make directory")) \
                    or attempt == WRITE_TRIES:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def set_ref(repo: pygit2.Repository, name: str, target: str) -> None:
    """Points ref `name` at `target` (again when a concurrent `git pack-refs` removed its folder meanwhile)."""
    written(lambda: repo.references.create(name, target, force=True))


def lost_objects(what: str, missing: str) -> XpError:
    """The error for a commit whose objects kept being deleted as xp wrote them."""
    return StateError(f"git objects of {what} were deleted as xp wrote them ({missing[:12]}), {WRITE_TRIES} times: "
                      "something runs `git gc --prune=now` (or deletes objects) beside xp",
                      hint="let it finish, or use git's default `gc.pruneExpire` (2 weeks), then run again")


def taken_names(repo: pygit2.Repository, baseline: str) -> set[str]:
    """Names already used by experiments of this baseline."""
    return {ref.name for ref, _ in exp_refs(repo) if ref.baseline == baseline}


def choose_name(repo: pygit2.Repository, baseline: str, name: str | None, *, force: bool) -> str:
    """The given name (validated, and free unless `force`) or a generated one."""
    taken = taken_names(repo, baseline)
    if name is None:
        chosen = names.generate(taken)
        while not names.is_free(repo, chosen):
            taken.add(chosen)
            chosen = names.generate(taken)
        return chosen
    names.check_new(repo, name)
    if name in taken and not force:
        raise BadInput(
            f"an experiment named '{name}' already exists for baseline {baseline[:7]}",
            hint="choose another name with -n, or pass -f to replace it",
        )
    return name


def record(project: Project, *, name: str | None, message: str | None, force: bool,
           tags: tuple[str, ...] = (), note: str = "", source: TmpWorkspace | None = None,
           parent: str | None = None, baseline: str | None = None,
           replaces: frozenset[str | None] | None = None, reserved: bool = False) -> Experiment:
    """Commits the workspace (or the private work tree `source`) as an experiment of `baseline` (default HEAD).

    `parent` is the run's newest checkpoint, when it made any: the experiment continues its chain.
    `baseline` is the commit a run started from: the experiment is recorded there even if HEAD moved meanwhile.
    `replaces`: what the experiment's ref may hold now (None: absent), when it is not exactly that, another
    run recorded the name meanwhile and this one is kept under a free name (said in a Notice), never
    overwriting it; default: anything with `force`, nothing without. `reserved`: the caller holds the name.
    """
    import warnings

    from pyhelper.errors import Notice

    repo = open_repo(project)
    head = repo[baseline] if baseline else head_commit(repo, project)
    base = str(head.id)
    chosen = choose_name(repo, base, name, force=force or replaces is not None)
    def write() -> str:
        tree = (snapshot_tree(repo, project.root, head.tree) if source is None
                else snapshot_tree(source.repo, source.root, head.tree))
        return commit_tree(repo, tree, parent=parent or str(head.id), message=message or f"xp: experiment {chosen}")

    allowed = replaces if replaces is not None else (None if force else frozenset({None}))
    with (reserve(project, base, chosen, wait=True) if not reserved else _held()), gc_held(repo):
        commit = written(write)
        missing_object(repo, commit, keep=True)  # Dated ahead before the ref: a gc --prune=now keeps them.
        ref = ExpRef(base, chosen)
        current = repo.references.get(str(ref))
        now = str(current.target) if current is not None else None
        if allowed is not None and now not in allowed:
            taken = taken_names(repo, base)
            chosen = next(f"{chosen}-{n}" for n in range(2, 10_000) if f"{chosen}-{n}" not in taken)
            warnings.warn(Notice(f"another run recorded an experiment named '{ref.name}' meanwhile; this one is "
                                 f"kept as '{chosen}'"), stacklevel=2)
            ref = ExpRef(base, chosen)
        set_ref(repo, str(ref), commit)
        for attempt in range(1, WRITE_TRIES + 1):  # Set, the ref keeps its objects; one lost before is rewritten.
            missing = missing_object(repo, commit)
            if missing is None:
                break
            if attempt == WRITE_TRIES:
                raise lost_objects(f"experiment '{chosen}'", missing)
            commit = written(write)
            missing_object(repo, commit, keep=True)
            set_ref(repo, str(ref), commit)
    if tags or note:
        notes.write(repo, str(commit), notes.Annotations(tags=tuple(tags), note=note))
    return Experiment(ref, str(commit))


@contextmanager
def _held() -> Iterator[None]:
    yield


@contextmanager
def reserve(project: Project, baseline: str, name: str, *, wait: bool = False) -> Iterator[None]:
    """Holds the experiment name `name` of `baseline` for this process (an flock on a file under `.xp/tmp/names/`,
    released when the process ends however it ends): a second run of the same name is refused at its start
    instead of one result silently replacing the other."""
    import fcntl

    folder = project.ensure_xp_dir() / "tmp" / "names"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha1(f"{baseline}/{name}".encode()).hexdigest()[:20] + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise BadInput(f"an experiment named '{name}' is being run right now by another xp process (pid {holder})",
                           hint="choose another name with -n, or wait until that run is recorded") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # Releases the lock.


def save(project: Project, *, name: str | None = None, message: str | None = None, force: bool = False,
         tags: tuple[str, ...] = (), note: str = "") -> Experiment:
    """Records the workspace as it is (tracked changes, deletions, untracked files) as an experiment."""
    with workspace_lock(project):  # Never a half-finished workspace of a running `exp run`.
        return record(project, name=name, message=message, force=force, tags=tags, note=note)
