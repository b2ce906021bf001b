"""The language server through a real client: start-up, versions, and start-up in folders that are
not (yet) projects."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcException

from pyhelper import __version__
from pyhelper.server import protocol as p
from tests.lsp_client import request, started

pytestmark = pytest.mark.asyncio


async def test_initialize_returns_versions(gen):
    repo = gen({"params.yaml": "lr: 0.1\n"})
    async with started(repo) as client:
        result = client.init_result
        assert result.server_info.name == "xp"
        assert result.server_info.version == __version__
        assert result.capabilities.experimental == {"xpProtocolVersion": p.PROTOCOL_VERSION}
        assert result.capabilities.hover_provider


async def test_not_a_git_repo_answers_with_the_fix(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    async with started(folder) as client:
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
        assert caught.value.code == p.BAD_INPUT
        assert "is not inside a git repository" in caught.value.message
        assert "git init" in caught.value.message
        # Still alive: a second request is answered too.
        with pytest.raises(JsonRpcException):
            await request(client, p.QUEUE_STATUS, p.QueueStatusParams())


async def test_repository_without_commits(gen):
    repo = gen({"params.yaml": "lr: 0.1\n"}, commit=False)
    async with started(repo) as client:
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
        assert caught.value.code == p.BAD_INPUT
        assert "no commits yet" in caught.value.message


async def test_repository_deleted_under_the_server(gen):
    import shutil
    import time

    from tests.conftest import git
    from tests.lsp_client import notification

    repo = gen({"params.yaml": "lr: 0.1\n"})
    async with started(repo) as client:
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert [r.kind for r in rows] == ["workspace", "baseline"]
        began = time.monotonic()
        shutil.rmtree(repo / ".git")
        _, changed = await notification(client, p.EXPERIMENTS_CHANGED, after=began)
        assert changed.baselines == []
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
        assert caught.value.code == p.BAD_INPUT and "is not inside a git repository" in caught.value.message
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "again")
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert rows[1].message == "again"

