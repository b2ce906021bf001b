"""Run-cache requests (list, restore) and sharing experiments through a git remote (push, pull)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pyhelper.errors import BadInput
from pyhelper.server import protocol as p
from pyhelper.server.errors import translated

if TYPE_CHECKING:
    from pyhelper.server.server import XpServer


def list_runs(ls: XpServer, params: p.ListRunsParams) -> p.ListRunsResult:
    """`xp runs list`."""
    from pyhelper.core.run_cache import RunCache

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
    from pyhelper.core.restore_run import restore_run as restore

    result = restore(ls.project(), params.id, force=params.force)
    return p.RestoreRunResult(outputs=list(result.outputs), params=list(result.params))


def push_experiments(ls: XpServer, params: p.SyncExperimentsParams) -> p.SyncExperimentsResult:
    """`xp exp push REMOTE [NAME…]`."""
    from pyhelper.core.experiments.sync import push

    with _progress(ls, params.work_done_token, f"xp: pushing experiments to {params.remote}") as done:
        names = [e.name for e in push(ls.project(), params.remote, list(params.names))]
        done(f"pushed {len(names)} experiment(s)")
    return p.SyncExperimentsResult(names=names)


def pull_experiments(ls: XpServer, params: p.SyncExperimentsParams) -> p.SyncExperimentsResult:
    """`xp exp pull REMOTE [NAME…]`."""
    from pyhelper.core.experiments.sync import pull

    with _progress(ls, params.work_done_token, f"xp: pulling experiments from {params.remote}") as done:
        names = [ref.name for ref in pull(ls.project(), params.remote, list(params.names))]
        done(f"pulled {len(names)} experiment(s)")
    return p.SyncExperimentsResult(names=names)


@contextlib.contextmanager
def _progress(ls: XpServer, token: int | str | None, title: str):
    """Begin/end progress around a push or pull when the client gave a token (git cannot be cancelled
    half way safely, so it is not cancellable); yields a function that sets the end message."""
    from pyhelper.server import progress

    message = ["failed"]
    if token is not None:
        progress.begin(ls, token, title)
    try:
        yield lambda text: message.__setitem__(0, text)
    finally:
        if token is not None:
            progress.end(ls, token, message[0])


HANDLERS = {
    p.LIST_RUNS: list_runs,
    p.RESTORE_RUN: restore_run,
    p.PUSH_EXPERIMENTS: push_experiments,
    p.PULL_EXPERIMENTS: pull_experiments,
}


def register(server: XpServer) -> None:
    """Registers the run-cache and sync requests, each run on a worker thread."""
    for method, handler in HANDLERS.items():
        server.feature(method)(server.thread()(translated(handler)))
