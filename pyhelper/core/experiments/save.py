"""`xp exp save`: record the workspace as an experiment of HEAD, without running anything.

Also the one place an experiment commit is written (`record`), which `exp run` uses after
reproducing. HEAD, the index and branches are never touched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyhelper.core.experiments import names, notes
from pyhelper.core.gitrepo import exp_refs, head_commit, open_repo, signature, snapshot_tree
from pyhelper.core.project import Project
from pyhelper.core.refs import ExpRef
from pyhelper.errors import BadInput

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.tmp_workspace import TmpWorkspace


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
    from pyhelper.core.gitcore import native

    sig = signature(repo)
    return str(repo.create_commit(None, sig, sig, message, tree, [native().Oid(hex=parent)]))


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
    if source is None:
        tree = snapshot_tree(repo, project.root, head.tree)
    else:
        tree = snapshot_tree(source.repo, source.root, head.tree)
    commit = commit_tree(repo, tree, parent=parent or str(head.id), message=message or f"xp: experiment {chosen}")
    allowed = replaces if replaces is not None else (None if force else frozenset({None}))
    with (reserve(project, base, chosen, wait=True) if not reserved else _held()):
        ref = ExpRef(base, chosen)
        current = repo.references.get(str(ref))
        now = str(current.target) if current is not None else None
        if allowed is not None and now not in allowed:
            taken = taken_names(repo, base)
            chosen = next(f"{chosen}-{n}" for n in range(2, 10_000) if f"{chosen}-{n}" not in taken)
            warnings.warn(Notice(f"another run recorded an experiment named '{ref.name}' meanwhile; this one is "
                                 f"kept as '{chosen}'"), stacklevel=2)
            ref = ExpRef(base, chosen)
        repo.references.create(str(ref), commit, force=True)
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
    from pyhelper.core.repro import workspace_lock

    with workspace_lock(project):  # Never a half-finished workspace of a running `exp run`.
        return record(project, name=name, message=message, force=force, tags=tags, note=note)
