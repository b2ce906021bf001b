"""Running and queuing through the server, pushed notifications after real changes on disk, many
requests at once, and a client that goes away."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from lsprotocol import types as lsp

from pyhelper.server import protocol as p
from tests.conftest import GIT_ENV, git
from tests.lsp_client import notification, refused, reproduced_project, request, started

pytestmark = pytest.mark.asyncio


@pytest.fixture
def project(gen, xp):
    """PROJECT reproduced and committed."""
    return reproduced_project(gen, xp)


async def _until(check, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_run_returns_at_once_reports_progress_and_notifies(project):
    head = git(project, "rev-parse", "HEAD").strip()
    async with started(project) as client:
        client.progress_reports["run-1"] = []
        began = time.monotonic()
        result = await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(
            params=["train.lr=0.15"], name="via-lsp", work_done_token="run-1"))
        assert result.started and result.names == ["via-lsp"]
        assert await _ended(client, "run-1") is None  # Answered before the run ended.
        _, changed = await notification(client, p.EXPERIMENTS_CHANGED, after=began, timeout=60,
                                        where=lambda params: head in params.baselines)
        reports = await _until(lambda: _ended(client, "run-1"), what="the end of progress")
        assert isinstance(reports[0], lsp.WorkDoneProgressBegin) and "via-lsp" in reports[0].title
        assert "recorded" in reports[-1].message
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        [row] = [r for r in rows if r.name == "via-lsp"]
        assert row.params["params.yaml"]["train.lr"] == 0.15
        assert row.metrics["metrics.json"]["acc"] == pytest.approx(0.65)


async def _ended(client, token):
    reports = client.progress_reports.get(token, [])
    return reports if reports and isinstance(reports[-1], lsp.WorkDoneProgressEnd) else None


async def test_failed_run_is_shown_with_the_cli_message(project):
    async with started(project) as client:
        client.progress_reports["bad"] = []
        await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(
            params=["train.lr=abc"], name="broken", work_done_token="bad"))
        reports = await _until(lambda: _ended(client, "bad"), what="the end of progress")
        assert "stage 'train' failed" in reports[-1].message
        await _until(lambda: asyncio.sleep(0, [m for m in client.messages if "broken" in m.message]),
                     what="an error message")
        [shown] = [m for m in client.messages if "broken" in m.message]
        assert shown.type == lsp.MessageType.Error and "stage 'train' failed" in shown.message


async def test_run_refuses_at_once(project, xp):
    xp("exp", "run", "-q", "-n", "taken", cwd=project)
    async with started(project) as client:
        message = await refused(client, p.RUN_EXPERIMENT, p.RunExperimentParams(params=["train.lr=0.1,0.2"]))
        assert "describe 2 experiments" in message
        assert "already exists" in await refused(client, p.RUN_EXPERIMENT, p.RunExperimentParams(name="taken"))


async def test_queue_start_status_logs_retry_stop(project):
    async with started(project) as client:
        began = time.monotonic()
        queued = await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(
            params=["train.lr=0.11,0.12"], name="sweep", queue=True))
        assert queued.names == ["sweep-1", "sweep-2"]
        _, counts = await notification(client, p.QUEUE_CHANGED, after=began, where=lambda c: c.queued == 2)
        assert counts.running == 0
        status = await request(client, p.QUEUE_STATUS, p.QueueStatusParams())
        assert [(e.name, e.status) for e in status.entries] == [("sweep-1", "queued"), ("sweep-2", "queued")]
        started_workers = await request(client, p.START_QUEUE, p.StartQueueParams(jobs=1))
        assert started_workers.workers == 1

        async def finished():
            current = await request(client, p.QUEUE_STATUS, p.QueueStatusParams())
            return current if all(e.status == "success" for e in current.entries) else None

        await _until(finished, timeout=120, what="the queue to finish")
        await notification(client, p.QUEUE_CHANGED, after=began, where=lambda c: c.queued == 0 and c.running == 0)
        log = await request(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="sweep-1"))
        assert log.status == "success" and log.text and log.next_offset == len(log.text.encode())
        rest = await request(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="sweep-1", offset=log.next_offset))
        assert rest.text == "" and rest.next_offset == log.next_offset
        retried = await request(client, p.RETRY_QUEUE_ENTRIES, p.RetryQueueEntriesParams(names=["sweep-2"]))
        assert retried.names == ["sweep-2"]
        killed = await request(client, p.KILL_QUEUE_ENTRIES, p.KillQueueEntriesParams(names=["sweep-2"]))
        assert killed.names == ["sweep-2"]
        assert await request(client, p.STOP_QUEUE, p.StopQueueParams()) == p.StopQueueResult()
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert {"sweep-1", "sweep-2"} <= {r.name for r in rows}
        await refused(client, p.READ_QUEUE_LOG, p.ReadQueueLogParams(name="nope"))


async def test_cli_experiment_is_pushed_coalesced(project, xp):
    head = git(project, "rev-parse", "HEAD").strip()
    async with started(project) as client:
        await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
        began = time.monotonic()
        xp("exp", "run", "-q", "-n", "from-cli", "-S", "train.lr=0.25", cwd=project)
        _, changed = await notification(client, p.EXPERIMENTS_CHANGED, after=began,
                                        where=lambda params: head in params.baselines)
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert "from-cli" in [r.name for r in rows]
        # Twenty refs written in a burst (in this process, so the burst takes milliseconds):
        # they reach the editor as one or two notifications, never one each.
        import pygit2

        repo = pygit2.Repository(str(project))
        commit = repo.references[f"refs/exps/{head[:2]}/{head[2:]}/from-cli"].target
        burst = time.monotonic()
        for index in range(20):
            repo.references.create(f"refs/exps/{head[:2]}/{head[2:]}/copy-{index}", commit)
        await asyncio.sleep(1.0)
        elapsed = time.monotonic() - burst
        times = [t for t, method, _ in client.xp_notifications if method == p.EXPERIMENTS_CHANGED and t >= burst]
        assert times, "no notification for the burst"
        # Arrival times can bunch up in the client's loop; the count cannot exceed one per 200 ms.
        assert len(times) <= elapsed / 0.2 + 1 and len(times) <= 3, (len(times), elapsed)
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert len([r for r in rows if r.name.startswith("copy-")]) == 20


async def test_workspace_edit_is_pushed(project):
    head = git(project, "rev-parse", "HEAD").strip()
    async with started(project) as client:
        began = time.monotonic()
        (project / "params.yaml").write_text("train:\n  lr: 0.5\n  opt: sgd\n")
        _, changed = await notification(client, p.EXPERIMENTS_CHANGED, after=began)
        assert changed.baselines == [head]
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert rows[0].kind == "workspace" and rows[0].params["params.yaml"]["train.lr"] == 0.5


async def test_fifty_requests_at_once(project, xp):
    xp("exp", "run", "-q", "-n", "one", cwd=project)
    async with started(project) as client:
        results = await asyncio.gather(*[
            request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(limit=1 + i % 3)) for i in range(40)
        ] + [request(client, p.QUEUE_STATUS, p.QueueStatusParams()) for _ in range(10)])
    assert all(r.rows[0].kind == "workspace" for r in results[:40])
    assert all(r.entries == [] for r in results[40:])


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def test_server_exits_when_the_client_disappears(project):
    server = subprocess.Popen([sys.executable, "-m", "pyhelper", "serve"], cwd=project, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **GIT_ENV})
    try:
        server.stdin.write(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                   "params": {"processId": None, "rootUri": None, "capabilities": {}}}))
        server.stdin.write(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        server.stdin.flush()
        header = server.stdout.readline()
        assert header.startswith(b"Content-Length")
        server.stdin.close()  # The editor died: its end of the pipe closes.
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()


async def test_status_and_repro(project):
    async with started(project) as client:
        status = await request(client, p.SHOW_STATUS, p.ShowStatusParams())
        assert [(s.stage, s.changed) for s in status.stages] == [("train", False)]
        (project / "params.yaml").write_text("train:\n  lr: 0.4\n  opt: sgd\n")
        status = await request(client, p.SHOW_STATUS, p.ShowStatusParams())
        [train] = status.stages
        assert train.changed and any("train.lr" in reason for reason in train.reasons)
        message = await refused(client, p.REPRO_PIPELINE, p.ReproPipelineParams(targets=["trian"]))
        assert "unknown stage 'trian'" in message and "did you mean 'train'?" in message
        # Said at once, not in a log: nothing outside is edited.
        message = await refused(client, p.REPRO_PIPELINE,
                                p.ReproPipelineParams(params=[f"{project.parent}/x.yaml:a=2"]))
        assert "is outside the project" in message
        assert not (project.parent / "x.yaml").exists()
        client.progress_reports["repro"] = []
        result = await request(client, p.REPRO_PIPELINE, p.ReproPipelineParams(work_done_token="repro"))
        assert result.started
        reports = await _until(lambda: _ended(client, "repro"), what="the end of progress")
        assert reports[-1].message == "pipeline up to date"

        async def up_to_date():
            current = await request(client, p.SHOW_STATUS, p.ShowStatusParams())
            return not current.stages[0].changed

        await _until(up_to_date, what="the stage to be up to date")
    assert json.loads((project / "metrics.json").read_text())["acc"] == pytest.approx(0.9)


async def test_cancel_a_run_from_its_progress(project):
    (project / "train.py").write_text("import time\ntime.sleep(60)\n")
    git(project, "commit", "-qam", "slow")
    async with started(project) as client:
        client.progress_reports["slow"] = []
        await request(client, p.RUN_EXPERIMENT, p.RunExperimentParams(name="slow", work_done_token="slow"))
        await _until(lambda: asyncio.sleep(0, len(client.progress_reports["slow"]) >= 1), what="progress")
        assert client.progress_reports["slow"][0].cancellable
        await asyncio.sleep(1.0)  # Let the stage start.
        client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token="slow"))
        reports = await _until(lambda: _ended(client, "slow"), timeout=30, what="the end of progress")
        assert "interrupted" in reports[-1].message
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert "slow" not in [r.name for r in rows]


async def test_a_running_experiment_pushes_its_new_steps(gen):
    from tests.test_checkpoints import PROJECT as TRAINING

    repo = gen({**TRAINING, "params.yaml": "epochs: 4\ndelay: 0.6\n"})
    async with started(repo) as client:
        run = subprocess.Popen([sys.executable, "-m", "pyhelper", "exp", "run", "-q", "-n", "deep"], cwd=repo,
                               env={**os.environ, **GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, first = await notification(client, p.LIVE_METRICS_UPDATED, timeout=30,
                                          where=lambda params: params.step is not None and params.step >= 1)
            assert first.experiment == "deep" and first.baseline == git(repo, "rev-parse", "HEAD").strip()
            assert "train.loss" in first.metrics
            _, later = await notification(client, p.LIVE_METRICS_UPDATED, timeout=30,
                                          where=lambda params: params.step is not None and params.step > first.step)
            assert later.metrics["train.loss"] < first.metrics["train.loss"]
        finally:
            assert run.wait(timeout=60) == 0, run.stderr.read()
