"""Run-cache and sharing requests through a real client: list and restore runs, push and pull experiments."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcException

from pyhelper.server import protocol as p
from tests.conftest import git
from tests.lsp_client import reproduced_project, request, started
from tests.test_server_progress import _ended

pytestmark = pytest.mark.asyncio


@pytest.fixture
def project(gen, xp):
    """PROJECT reproduced and committed (one run in the run-cache)."""
    return reproduced_project(gen, xp)


async def test_list_and_restore_runs(project, xp):
    xp("repro", "-S", "train.lr=0.3", cwd=project)
    async with started(project) as client:
        runs = (await request(client, p.LIST_RUNS, p.ListRunsParams(stage="train"))).runs
        assert [r.params["params.yaml"]["train.lr"] for r in runs] == [0.3, 0.1]
        assert runs[0].metrics and runs[0].duration >= 0
        assert [r.id for r in (await request(client, p.LIST_RUNS, p.ListRunsParams(limit=1))).runs] == [runs[0].id]
        git(project, "checkout", "-q", "--", "params.yaml")
        restored = await request(client, p.RESTORE_RUN, p.RestoreRunParams(id=runs[1].id))
        assert "model.bin" in restored.outputs
        assert (project / "model.bin").read_text() == "model lr=0.1 opt=sgd\n"
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.RESTORE_RUN, p.RestoreRunParams(id="nope"))
        assert caught.value.code == p.BAD_INPUT and "nope" in caught.value.message


async def test_push_and_pull(project, xp, tmp_path):
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    xp("exp", "run", "-q", "-n", "shared", "-S", "train.lr=0.2", cwd=project)
    async with started(project) as client:
        pushed = await request(client, p.PUSH_EXPERIMENTS, p.SyncExperimentsParams(remote=str(remote)))
        assert pushed.names == ["shared"]
        assert "/shared" in git(remote, "for-each-ref", "refs/exps")
        await request(client, p.REMOVE_EXPERIMENTS, p.RemoveExperimentsParams(names=["shared"]))
        pulled = await request(client, p.PULL_EXPERIMENTS, p.SyncExperimentsParams(remote=str(remote)))
        assert pulled.names == ["shared"]
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert "shared" in [r.name for r in rows]
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.PUSH_EXPERIMENTS, p.SyncExperimentsParams(remote=str(tmp_path / "missing")))
        assert caught.value.code in (p.BAD_INPUT, p.OPERATION_FAILED) and caught.value.message


async def test_pushed_experiments_carry_their_outputs_and_a_teammates_editor_applies_them(tmp_path, xp):
    """Issue 18's story in the editor: A's Push carries the model to the remote storage; B's Pull fetches it and
    Apply puts it in place without rebuilding."""
    from pyhelper.demo import create

    a = create(tmp_path / "a")
    xp("repro", cwd=a)  # The demo's remote storage is the folder a/storage.
    git(a, "add", "-A")
    git(a, "commit", "-qm", "reproduced")
    git(a, "push", "-q", "origin", "HEAD:main")
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "big", cwd=a)
    async with started(a) as client:
        client.progress_reports["push"] = []
        await request(client, p.PUSH_EXPERIMENTS, p.SyncExperimentsParams(remote="origin", names=["big"],
                                                                          work_done_token="push"))
        pushing = await _ended(client, "push")
    assert list((a / "storage" / "files" / "md5").glob("*/*")), "the outputs went to the remote storage"
    # The editor's notification counts the outputs as they go, up to 100%.
    counted = [r for r in pushing if getattr(r, "message", "") and r.message.startswith("Pushing outputs")]
    assert counted and counted[-1].percentage == 100 and counted[-1].message.endswith("object(s)"), pushing
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(a / "origin.git"), str(b))
    async with started(b) as client:
        pulled = await request(client, p.PULL_EXPERIMENTS, p.SyncExperimentsParams(remote="origin"))
        assert pulled.names == ["big"]
        # The pull brought the outputs into B's cache; lose them, and Apply fetches them again, counted.
        for cached in (b / ".xp" / "cache" / "files" / "md5").glob("*/*"):
            cached.chmod(0o644)
            cached.unlink()
        client.progress_reports["apply"] = []
        await request(client, p.APPLY_EXPERIMENT, p.ApplyExperimentParams(name="big", work_done_token="apply"))
        begin, *lines, end = await _ended(client, "apply")
    assert begin.title == "xp: applying big" and end.message == "applied big"
    assert lines and lines[-1].message.startswith("Fetching outputs") and lines[-1].percentage == 100, lines
    xp("exp", "apply", "big", cwd=a)
    assert (b / "model/model.json").read_bytes() == (a / "model/model.json").read_bytes()
    assert "Running stage" not in xp("repro", cwd=b).stdout, "B has A's model without rebuilding it"
