"""Run-cache requests (list, restore) and sharing experiments through a git remote (push, pull)."""

from __future__ import annotations

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

    return p.SyncExperimentsResult(names=[e.name for e in push(ls.project(), params.remote, list(params.names))])


def pull_experiments(ls: XpServer, params: p.SyncExperimentsParams) -> p.SyncExperimentsResult:
    """`xp exp pull REMOTE [NAME…]`."""
    from pyhelper.core.experiments.sync import pull

    return p.SyncExperimentsResult(names=[ref.name for ref in pull(ls.project(), params.remote, list(params.names))])


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
