"""`$/progress` for long work beyond runs, through a real client: the queue's counts until it is
empty (Cancel stops it and kills what runs), and push/pull begin/end."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from pyhelper.server import protocol as p
from tests.conftest import git
from tests.lsp_client import reproduced_project, request, started

pytestmark = pytest.mark.asyncio


@pytest.fixture
def project(gen, xp):
    """PROJECT reproduced and committed."""
    return reproduced_project(gen, xp)


async def _ended(client, token: str, timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reports = client.progress_reports.get(token, [])
        if reports and isinstance(reports[-1], lsp.WorkDoneProgressEnd):
            return reports
        await asyncio.sleep(0.1)
    raise AssertionError(f"progress {token} did not end within {timeout}s: {client.progress_reports.get(token)}")


async def test_queue_progress_counts_until_the_queue_is_done(project):
    async with started(project) as client:
        await request(client, p.RUN_EXPERIMENT,
                      p.RunExperimentParams(params=["train.lr=0.11,0.12"], name="q", queue=True))
        client.progress_reports["queue"] = []
        started_workers = await request(client, p.START_QUEUE, p.StartQueueParams(jobs=2, work_done_token="queue"))
        assert started_workers.workers == 2
        reports = await _ended(client, "queue")
    begin, *middle, end = reports
    assert isinstance(begin, lsp.WorkDoneProgressBegin) and begin.cancellable and "2 workers" in begin.title
    assert [r.message for r in middle][0].endswith("queued, 0 finished")
    assert middle[-1].message == "0 running, 0 queued, 2 finished"
    assert end.message == "queue finished: 2 experiment(s)"


async def test_cancel_on_the_queue_progress_stops_the_queue(project):
    (project / "train.py").write_text("import time\ntime.sleep(60)\n")
    git(project, "commit", "-qam", "slow")
    async with started(project) as client:
        await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(name="slow", queue=True))
        client.progress_reports["queue"] = []
        await request(client, p.START_QUEUE, p.StartQueueParams(jobs=1, work_done_token="queue"))
        deadline = time.monotonic() + 30
        while not any(getattr(r, "message", "") and r.message.startswith("1 running")
                      for r in client.progress_reports["queue"]):
            assert time.monotonic() < deadline, client.progress_reports["queue"]
            await asyncio.sleep(0.1)
        cancelled = time.monotonic()
        client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token="queue"))
        reports = await _ended(client, "queue", timeout=30)
        assert time.monotonic() - cancelled < 20
        status = await request(client, p.QUEUE_STATUS, p.QueueStatusParams())
    assert "finished" in reports[-1].message
    assert [e.status for e in status.entries] == ["cancelled"]


async def test_push_and_pull_report_begin_and_end(project, xp, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    xp("exp", "run", "-q", "-n", "shared", "-S", "train.lr=0.2", cwd=project)
    async with started(project) as client:
        client.progress_reports["push"] = []
        await request(client, p.PUSH_EXPERIMENTS, p.SyncExperimentsParams(remote=str(remote), work_done_token="push"))
        begin, *lines, end = await _ended(client, "push", timeout=10)
        assert "pushing experiments to" in begin.title and begin.cancellable
        # git's own progress lines, the last one finished (the object counts are git's).
        assert lines and all(r.message.split(":")[0].endswith("objects") for r in lines), lines
        assert lines[-1].message.startswith("Writing objects: 100%"), lines
        # The project has no remote storage: the outputs stayed, and the end says so.
        assert end.message.startswith("pushed 1 experiment(s); outputs stayed where they are: no remote"), end.message
        client.progress_reports["bad"] = []
        with pytest.raises(JsonRpcException):
            await request(client, p.PULL_EXPERIMENTS, p.SyncExperimentsParams(
                remote=str(tmp_path / "missing"), work_done_token="bad"))
        assert (await _ended(client, "bad", timeout=10))[-1].message == "failed"


async def test_cancel_stops_a_push_that_hangs_and_the_remote_keeps_what_it_had(project, xp, tmp_path):
    remote = tmp_path / "slow.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    # The remote's hook takes a minute (a slow server); its pid says when it began and whether it is gone.
    hook = remote / "hooks" / "pre-receive"
    marker = tmp_path / "hook.pid"
    hook.write_text(f"#!/bin/sh\necho $$ > {marker}\nsleep 60\n")
    hook.chmod(0o755)
    xp("exp", "run", "-q", "-n", "held-up", "-S", "train.lr=0.3", cwd=project)
    async with started(project) as client:
        client.progress_reports["slow"] = []
        pushing = asyncio.ensure_future(request(client, p.PUSH_EXPERIMENTS, p.SyncExperimentsParams(
            remote=str(remote), work_done_token="slow"), timeout=60))
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline, "the remote's hook never started"
            await asyncio.sleep(0.1)
        cancelled = time.monotonic()
        client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token="slow"))
        with pytest.raises(Exception) as caught:
            await pushing
        assert time.monotonic() - cancelled < 10
        assert "stopped before it finished" in str(caught.value)
        assert (await _ended(client, "slow", timeout=10))[-1].message == "cancelled"
    assert git(remote, "for-each-ref", "refs/exps") == ""  # Nothing arrived half way.
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while True:  # The hook went with git's process group.
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "the remote's hook still runs after the cancel"
        await asyncio.sleep(0.1)
