"""Run-cache requests (list, restore) and sharing experiments through a git remote (push, pull)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyhelper.core.credentials import redact
from pyhelper.core.git.gitargs import check_remote
from pyhelper.errors import BadInput
from pyhelper.server import protocol as p
from pyhelper.server.errors import translated

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer


def list_runs(ls: XpServer, params: p.ListRunsParams) -> p.ListRunsResult:
    """`xp runs list`."""
    from pyhelper.core.pipeline.run_cache import RunCache

    if params.limit is not None and params.limit < 1:
        raise BadInput(f"limit must be at least 1 (got {params.limit})", hint="leave it out for every run")
    cache = RunCache(ls.project().ensure_xp_dir() / "runs.db")
    try:
        records = cache.list(stage=params.stage, limit=params.limit)
    finally:
        cache.close()
    return p.ListRunsResult(runs=[p.RecordedRun(id=r.id, stage=r.stage, created=r.created, duration=r.duration,
                                                params=dict(r.params), metrics=dict(r.metrics)) for r in records])


def restore_run(ls: XpServer, params: p.RestoreRunParams) -> p.RestoreRunResult:
    """`xp runs restore ID`."""
    from pyhelper.core.pipeline.restore_run import restore_run as restore

    result = restore(ls.project(), params.id, force=params.force)
    return p.RestoreRunResult(outputs=list(result.outputs), params=list(result.params))


def push_experiments(ls: XpServer, params: p.SyncExperimentsParams) -> p.SyncExperimentsResult:
    """`xp exp push REMOTE [NAME…]`."""
    from pyhelper.core.experiments.sync import push

    # Checked before any progress begins: a refused remote answers with its one line and nothing else.
    remote = check_remote(params.remote)
    with _progress(ls, params.work_done_token, f"xp: pushing experiments to {redact(remote)}") as (follow, done):
        pushed = push(ls.project(), remote, list(params.names), follow=follow)
        names = [e.name for e in pushed]
        # Their outputs, as `xp exp push` carries them.
        note = _carry(ls, [e.rev for e in pushed], pushing=True, token=params.work_done_token)
        done(f"pushed {len(names)} experiment(s)" + (f"; {note[0].lower()}{note[1:].rstrip('.')}" if note else ""))
    return p.SyncExperimentsResult(names=names)


def pull_experiments(ls: XpServer, params: p.SyncExperimentsParams) -> p.SyncExperimentsResult:
    """`xp exp pull REMOTE [NAME…]`."""
    from pyhelper.core.experiments.sync import outputs_note, outputs_of_pulled, pull
    from pyhelper.core.git.gitrepo import open_repo

    # Checked before any progress begins: a refused remote answers with its one line and nothing else.
    remote = check_remote(params.remote)
    with _progress(ls, params.work_done_token, f"xp: pulling experiments from {redact(remote)}") as (follow, done):
        refs = pull(ls.project(), remote, list(params.names), follow=follow)
        names = [ref.name for ref in refs]
        # Remote runs' outputs come home as they do for `xp exp pull`.
        note = outputs_note(outputs_of_pulled(ls.project(), refs))
        repo = open_repo(ls.project())
        carried = _carry(ls, [str(repo.references[str(ref)].target) for ref in refs], pushing=False,
                         token=params.work_done_token)
        note = " ".join(filter(None, [note, carried]))
        done(f"pulled {len(names)} experiment(s)" + (f"; {note[0].lower()}{note[1:].rstrip('.')}" if note else ""))
    return p.SyncExperimentsResult(names=names)


def _carry(ls: XpServer, revs: list[str], *, pushing: bool, token: int | str | None) -> str:
    """The experiments' outputs to (or from) the default remote, as the CLI's `exp push`/`exp pull`, counted in
    the push's or pull's progress; the note."""
    from pyhelper.core.remotes.transfer import NO_REMOTE_NOTE, carry
    from pyhelper.server import progress

    if not revs:
        return ""
    carried = carry(ls.project(), revs, pushing=pushing,
                    progress=progress.counting(ls, token, "Pushing outputs" if pushing else "Fetching outputs"))
    if carried is None:
        return NO_REMOTE_NOTE if pushing else ""
    return carried.note(pushing=pushing)


@contextlib.contextmanager
def _progress(ls: XpServer, token: int | str | None, title: str):
    """Progress of a push or pull when the client gave a token: git's own lines (at most 4 a second),
    and Cancel, which stops git. Yields the `Follow` for core (None without a token) and a function
    setting the end message."""
    from pyhelper.core.experiments.sync import Follow, SyncCancelled
    from pyhelper.server import progress

    message = ["failed"]
    if token is None:
        yield None, lambda text: message.__setitem__(0, text)
        return
    last = [0.0]

    def line(text: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.25 or text.endswith("done."):
            last[0] = now
            progress.report(ls, token, text)

    follow = Follow(line)
    progress.begin(ls, token, title, on_cancel=follow.cancel.set)
    try:
        yield follow, lambda text: message.__setitem__(0, text)
    except SyncCancelled:
        message[0] = "cancelled"
        raise
    finally:
        progress.end(ls, token, message[0])


HANDLERS: dict[str, Callable[..., Any]] = {
    p.LIST_RUNS: list_runs,
    p.RESTORE_RUN: restore_run,
    p.PUSH_EXPERIMENTS: push_experiments,
    p.PULL_EXPERIMENTS: pull_experiments,
}


def register(server: XpServer) -> None:
    """Registers the run-cache and sync requests, each run on a worker thread."""
    for method, handler in HANDLERS.items():
        server.feature(method)(server.thread()(translated(handler)))
