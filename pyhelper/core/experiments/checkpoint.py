"""Checkpoints: commits on an experiment's ref chain, recorded while its stage runs.

While `xp exp run` (workspace or `--temp`) or a queue worker runs a pipeline, a `Recorder`
(`recorder.py`) listens on a Unix socket whose path the stages get in `XP_CHECKPOINT_SOCKET`. A request from
`pyhelper.live` (one JSON line, versioned) is answered once the checkpoint is recorded:

- a commit holding the work tree at that moment (cached outputs left out: they are not git's),
  whose parent is the previous checkpoint (the first one's is the baseline), and whose message
  carries an `xp-checkpoint: {json}` trailer: its step, the stage, and the md5 of every output
  declared `persist: true`, saved into the object cache;
- the experiment's ref (`refs/exps/…/<name>`) moved to it.

The final experiment commit continues the chain (its parent is the newest checkpoint). An
experiment whose ref still points at a checkpoint has not finished: it is running while its
run's live file (`.xp/live/<run>.json`) names a living process, and failed at that step otherwise
(Ctrl-C, a failed stage, kill -9 of xp).

This module reads checkpoints: the trailer, the chain, `NAME@STEP`, restoring persisted outputs,
and which runs are live.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyhelper.core.git.gitcore import lookup_commit
from pyhelper.core.git.refs import ExpRef
from pyhelper.core.project import Project
from pyhelper.errors import BadInput, UnknownExperiment

if TYPE_CHECKING:
    import pygit2

    from pyhelper.core.storage.hashing import HashInfo

# `xp exp show` imports this module: what only recording or restoring needs is imported there.

TRAILER = "xp-checkpoint"
SOCKET_DIR_PREFIX = "xp-ck-"
"""A run whose `.xp/tmp/` path is too long for a Unix socket listens in a temp folder named so."""


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of an experiment."""

    ref: ExpRef
    rev: str
    step: int
    stage: str
    outs: dict[str, HashInfo] = field(default_factory=dict, compare=False)
    """Persisted outputs (path relative to the repository root) and their hashes."""
    problem: str = field(default="", compare=False)
    """Why the trailer's outputs cannot be restored (one that is not a plain relative path, an md5 that is
    not one); '' when they can. A commit's message is anyone's text: it is checked here, refused on use."""

    @property
    def name(self) -> str:
        """`name@step`, as `xp exp apply` and `--resume` take it."""
        return f"{self.ref.name}@{self.step}"


def parse_trailer(message: str) -> dict[str, Any] | None:
    """The checkpoint trailer's JSON of a commit message, or None for other commits."""
    marker = f"\n{TRAILER}: "
    at = message.rfind(marker)
    if at < 0:
        return None
    try:
        data = json.loads(message[at + len(marker):].split("\n", 1)[0])
    except (ValueError, RecursionError):  # A forged trailer may nest brackets thousands deep.
        return None
    return data if isinstance(data, dict) and isinstance(data.get("step"), int) else None


def _checkpoint(ref: ExpRef, rev: str, data: dict[str, Any]) -> Checkpoint:
    from pyhelper.core.storage.hashing import HashInfo

    outs: dict[str, HashInfo] = {}
    listed = data.get("outs") or {}
    stage = str(data.get("stage", ""))
    if not isinstance(listed, dict):
        return Checkpoint(ref, rev, data["step"], stage, {}, "its outs are not a mapping of paths to hashes")
    for path, info in listed.items():
        problem = _trailer_out_problem(path, info)
        if problem:
            return Checkpoint(ref, rev, data["step"], stage, {}, problem)
        size, nfiles = info.get("size", 0), info.get("nfiles")
        outs[path] = HashInfo(md5=info["md5"], size=size if type(size) is int else 0,
                              nfiles=nfiles if type(nfiles) is int else None)
    return Checkpoint(ref, rev, data["step"], stage, outs)


def _trailer_out_problem(path: str, info: object) -> str:
    """What is wrong with one persisted output of a trailer, or ''."""
    from pyhelper.core.inside import not_plain, plain_path
    from pyhelper.core.storage.hashing import is_md5

    if not isinstance(info, dict) or not is_md5(info.get("md5")):
        return f"the md5 it gives output '{str(path)[:200]}' is not an md5"
    if not plain_path(path):
        return f"it lists output '{path[:200]}', which is {not_plain(path)}"
    return ""


def chain(repo: pygit2.Repository, ref: ExpRef, rev: str) -> list[Checkpoint]:
    """The experiment's checkpoints, newest first: its tip (if a checkpoint) and the checkpoints below it."""
    found: list[Checkpoint] = []
    commit = lookup_commit(repo, rev)
    while True:
        data = parse_trailer(commit.message)
        if data is not None:
            found.append(_checkpoint(ref, str(commit.id), data))
        elif found or str(commit.id) != rev:
            break  # Below the chain: the baseline, or a commit that is not a checkpoint.
        parents = commit.parent_ids
        if not parents or str(parents[0]) == ref.baseline:
            break
        commit = lookup_commit(repo, parents[0])
    return found


def find_step(repo: pygit2.Repository, spec: str) -> tuple[ExpRef, Checkpoint]:
    """`NAME@STEP` (that step) or `NAME` (the newest checkpoint) → the experiment's ref and the checkpoint."""
    from pyhelper.core.experiments.resolve import find

    name, at, step = spec.rpartition("@")
    if not at or not step.isdigit():
        name, step = spec, ""
    experiment = find(repo, name)
    checkpoints = chain(repo, experiment.ref, experiment.rev)
    if not checkpoints:
        raise UnknownExperiment(f"experiment '{experiment.name}' has no checkpoints",
                                hint="only stages that call make_checkpoint() (pyhelper.live) make them; "
                                     "`xp exp apply` brings back a whole experiment")
    if not step:
        return experiment.ref, checkpoints[0]
    for checkpoint in checkpoints:
        if checkpoint.step == int(step):
            return experiment.ref, checkpoint
    steps = ", ".join(str(c.step) for c in reversed(checkpoints))
    raise UnknownExperiment(f"experiment '{experiment.name}' has no checkpoint at step {step}",
                            hint=f"its checkpoints are at steps {steps}")


def checkpoint_at(repo: pygit2.Repository, ref: ExpRef, rev: str) -> Checkpoint | None:
    """The checkpoint commit `rev` is, or None when it is not one."""
    data = parse_trailer(lookup_commit(repo, rev).message)
    return _checkpoint(ref, rev, data) if data is not None else None


def checkout_persisted(view: Project, checkpoint: Checkpoint, *, strict: bool) -> tuple[list[str], list[str]]:
    """Puts the checkpoint's persisted outputs into `view.root` from the cache: (restored, missing).

    With `strict`, an output the cache no longer has is an error naming it, before anything is written.
    """
    from pyhelper.core.storage.cache import Cache
    from pyhelper.core.storage.hashing import StatIndex

    refuse_unsafe(view, checkpoint)
    index = StatIndex(view.ensure_xp_dir() / "index.db")
    cache = Cache(view.cache_dir, index)
    restored: list[str] = []
    try:
        missing = [path for path, info in checkpoint.outs.items() if not cache.has(info)]
        if missing and strict:
            path = missing[0]
            raise BadInput(
                f"checkpoint '{checkpoint.name}' cannot be restored: its persisted output '{path}' "
                f"(md5 {checkpoint.outs[path].md5}) is no longer in the cache ({view.cache_dir})",
                hint="resume from another checkpoint (`xp exp show` lists them), or start over with "
                     "`xp exp run --reset`", path=path)
        for path, info in checkpoint.outs.items():
            if path in missing:
                continue
            target = view.root / path
            current = None if target.is_symlink() else index.hash_path(target)  # A symlink is replaced, not followed.
            if current is not None and current.md5 == info.md5:
                continue
            if current is not None and not cache.has(current):
                cache.save(target, current)  # Whatever is replaced stays recoverable.
            cache.checkout(info, target)
            restored.append(path)
    finally:
        index.close()
    return restored, missing


def refuse_unsafe(view: Project, checkpoint: Checkpoint, links: dict[str, str | None] | None = None) -> None:
    """Raises `BadInput` when a persisted output of the checkpoint's trailer would be written outside
    `view.root` (symlinks followed; `links`: those about to be written, see `inside.inside_work_tree`)."""
    from pyhelper.core.inside import inside_work_tree

    problem = checkpoint.problem
    if not problem:
        root = os.path.realpath(view.root)
        outside = [path for path in checkpoint.outs if not inside_work_tree(root, path, links)]
        problem = f"it lists output '{outside[0]}', which resolves outside the work tree" if outside else ""
    if problem:
        raise BadInput(f"the xp-checkpoint trailer of {checkpoint.name} ({checkpoint.rev[:7]}) cannot be used: "
                       f"{problem}",
                       hint="a commit message is anyone's text: inspect it (`git show "
                            f"{checkpoint.rev[:7]}`) and remove the experiment (`xp exp remove {checkpoint.ref.name}`)")


# -- Is a run still going? -------------------------------------------------------------------------


def live_runs(project: Project) -> dict[str, dict[str, Any]]:
    """Experiment ref → the live file of the run that is recording it now (its process is alive)."""
    folder = project.xp_dir / "live"
    runs: dict[str, dict[str, Any]] = {}
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return runs
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            data = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and _alive(data.get("pid")) and data.get("host") == _host():
            runs[str(data.get("ref"))] = data
    return runs


def prune_dead_runs(project: Project) -> None:
    """Removes the live files (and sockets) that runs killed without a chance to clean up left behind."""
    folder = project.xp_dir / "live"
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    host = _host()
    for name in names:
        if not name.endswith(".json"):
            continue
        path = folder / name
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("host") != host or _alive(data.get("pid")):
            continue
        if isinstance(data.get("socket"), str) and data["socket"]:
            sock = Path(data["socket"])
            sock.unlink(missing_ok=True)
            if sock.parent.name.startswith(SOCKET_DIR_PREFIX):  # The private folder of a long path's socket.
                with contextlib.suppress(OSError):
                    sock.parent.rmdir()
        path.unlink(missing_ok=True)


def prune_stale_socket_dirs(older_than: float = 60.0) -> None:
    """Removes the temp folders of long-path sockets whose run is gone (nothing accepts on them).

    A killed run's folder would otherwise stay in the temp folder when no later run happens in
    its project (a deleted project, a test's). A folder younger than `older_than` seconds is left
    alone: its run may still be about to listen.
    """
    import socket
    import tempfile
    import time

    root = Path(tempfile.gettempdir())
    try:
        names = [n for n in os.listdir(root) if n.startswith(SOCKET_DIR_PREFIX)]
    except OSError:
        return
    for name in names:
        folder = root / name
        try:
            st = folder.stat()
        except OSError:
            continue
        if st.st_uid != os.getuid() or time.time() - st.st_mtime < older_than:
            continue
        sock = folder / "s.sock"
        if sock.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(sock))
                    continue  # A living run answers: keep it.
                except OSError:
                    pass
            sock.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()




def _alive(pid: object) -> bool:
    """True when `pid` (read from a file: any JSON value) is a living process."""
    from pyhelper.core.processes import alive

    return isinstance(pid, int) and not isinstance(pid, bool) and alive(pid)


def _host() -> str:
    from pyhelper.core.processes import hostname

    return hostname()
