"""Experiment requests through a real client against `xp serve`: the same rows, sorting, filtering
and errors as the CLI, paging, apply/branch/remove/rename/tag/note/diff, and bad requests."""

from __future__ import annotations

import json

import pytest
from pygls.exceptions import JsonRpcException

from pyhelper.server import protocol as p
from tests.conftest import git
from tests.lsp_client import THREE_EXPERIMENTS, reproduced_project, request, started

pytestmark = pytest.mark.asyncio


@pytest.fixture
def project(gen, xp):
    """PROJECT reproduced and committed, with three experiments made by the CLI."""
    return reproduced_project(gen, xp, experiments=THREE_EXPERIMENTS)


def _wire(row: p.ExperimentRow) -> dict:
    return p.converter().unstructure(row)


async def test_rows_are_exactly_what_the_cli_prints(project, xp):
    cli = json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)
    async with started(project) as client:
        result = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
    assert [_wire(r) for r in result.rows] == cli
    assert result.next_cursor is None
    assert [r.kind for r in result.rows] == ["workspace", "baseline", "experiment", "experiment", "experiment"]


async def test_sort_and_filter_like_the_cli(project, xp):
    cli = json.loads(xp("exp", "show", "--xp-json", "--sort-by", "acc", "--sort-order", "desc",
                        "--filter", "train.lr>0.1", cwd=project).stdout)
    async with started(project) as client:
        result = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(
            sort_by="acc", sort_order="desc", filter="train.lr>0.1"))
    assert [r.name for r in result.rows] == [r["name"] for r in cli]
    assert [r.name for r in result.rows if r.kind == "experiment"] == ["high", "mid"]


async def test_pages_follow_the_cursor(project):
    async with started(project) as client:
        names = []
        cursor = None
        pages = 0
        while True:
            result = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(limit=2, cursor=cursor))
            names += [r.name for r in result.rows]
            pages += 1
            cursor = result.next_cursor
            if cursor is None:
                break
        whole = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())
    assert pages == 3
    assert names == [r.name for r in whole.rows]


async def test_bad_column_and_bad_cursor_say_the_fix(project, xp):
    cli = xp("exp", "show", "--sort-by", "acx", cwd=project, expect=2).stderr.strip()
    async with started(project) as client:
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(sort_by="acx"))
        assert caught.value.code == p.BAD_INPUT
        assert "error: " + caught.value.message == cli
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(cursor="bogus"))
        assert caught.value.code == p.BAD_INPUT and "nextCursor" in caught.value.message


async def test_apply_branch_remove(project):
    async with started(project) as client:
        applied = await request(client, p.APPLY_EXPERIMENT, p.ApplyExperimentParams(name="mid"))
        assert applied.applied == "mid"
        assert "lr: 0.2" in (project / "params.yaml").read_text()
        made = await request(client, p.BRANCH_EXPERIMENT, p.BranchExperimentParams(name="high", branch="keep-high"))
        assert made.branch == "keep-high"
        assert "keep-high" in git(project, "branch", "--list")
        removed = await request(client, p.REMOVE_EXPERIMENTS, p.RemoveExperimentsParams(names=["low"]))
        assert removed.removed == ["low"]
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert sorted(r.name for r in rows if r.kind == "experiment") == ["high", "mid"]


async def test_rename_tag_note_diff_revision(project):
    async with started(project) as client:
        renamed = await request(client, p.RENAME_EXPERIMENT, p.RenameExperimentParams(name="mid", new_name="middle"))
        assert renamed.name == "middle"
        tagged = await request(client, p.TAG_EXPERIMENT, p.TagExperimentParams(name="middle", tags=["best", "v1"]))
        assert tagged.tags == ["best", "v1"]
        noted = await request(client, p.NOTE_EXPERIMENT, p.NoteExperimentParams(name="middle", text="looks good"))
        assert noted.note == "looks good"
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(filter="tag=best"))).rows
        middle = [r for r in rows if r.kind == "experiment"]
        assert [(r.name, r.tags, r.note) for r in middle] == [("middle", ["best", "v1"], "looks good")]
        diff = await request(client, p.DIFF_EXPERIMENTS, p.DiffExperimentsParams(a="low", b="high"))
        assert {(d.key, d.old, d.new) for d in diff.params} == {("train.lr", 0.05, 0.3)}
        assert any(d.key == "acc" and d.change == pytest.approx(0.25) for d in diff.metrics)
        revision = await request(client, p.SHOW_REVISION, p.ShowRevisionParams(rev="high"))
        assert revision.row.params["params.yaml"]["train.lr"] == 0.3
        assert revision.row.metrics["metrics.json"]["acc"] == pytest.approx(0.8)


async def test_unknown_experiment_is_the_cli_error(project, xp):
    cli = xp("exp", "apply", "nope", cwd=project, expect=2).stderr.strip()
    async with started(project) as client:
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.APPLY_EXPERIMENT, p.ApplyExperimentParams(name="nope"))
        assert caught.value.code == p.BAD_INPUT
        assert "error: " + caught.value.message == cli
        for method, params in ((p.BRANCH_EXPERIMENT, p.BranchExperimentParams(name="nope", branch="b")),
                               (p.REMOVE_EXPERIMENTS, p.RemoveExperimentsParams(names=["nope"])),
                               (p.SHOW_REVISION, p.ShowRevisionParams(rev="nope"))):
            with pytest.raises(JsonRpcException) as caught:
                await request(client, method, params)
            assert caught.value.code == p.BAD_INPUT
            assert "'nope'" in caught.value.message


async def test_unknown_method_and_wrong_types(project):
    async with started(project, typed=False) as client:
        with pytest.raises(JsonRpcException) as caught:
            await request(client, "xp/frobnicateExperiments", {})
        assert caught.value.code == -32601
        for params, field in (({"limit": "ten"}, "limit"), ({"sortOrder": "sideways"}, "sortOrder"),
                              ({"revs": "HEAD"}, "revs"), ({"allBranches": 1}, "allBranches")):
            with pytest.raises(JsonRpcException) as caught:
                await request(client, p.SHOW_EXPERIMENTS, params)
            assert caught.value.code == -32602
            assert f"`{field}`" in caught.value.message, caught.value.message
        with pytest.raises(JsonRpcException) as caught:
            await request(client, p.APPLY_EXPERIMENT, {})
        assert caught.value.code == -32602 and "`name` is required" in caught.value.message
        # The server is still there and answers well-formed requests.
        result = await request(client, p.SHOW_EXPERIMENTS, {"limit": 1})
        assert result.rows[0].kind == "workspace" and result.nextCursor == "rows:1"


async def test_checkpoints_can_be_left_out_and_asked_for_per_experiment(gen, xp):
    """The tree loads experiments without their checkpoints, and one experiment's when it is expanded."""
    from tests.test_checkpoints import PROJECT as TRAINING

    repo = gen(TRAINING)
    xp("exp", "run", "-q", "-n", "deep", cwd=repo)
    cli = json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)
    async with started(repo) as client:
        lean = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(checkpoints=False))
        deep = next(r for r in lean.rows if r.name == "deep")
        assert [r.kind for r in lean.rows] == ["workspace", "baseline", "experiment"] and deep.step == 2
        expanded = await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(checkpoints_of="deep",
                                                                                     revs=["HEAD"]))
        assert [_wire(r) for r in expanded.rows] == [r for r in cli if r["kind"] == "checkpoint"]
        assert [r.name for r in expanded.rows] == ["deep@2", "deep@1", "deep@0"]
        with pytest.raises(JsonRpcException) as missing:
            await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams(checkpoints_of="shallow"))
    assert "no experiment 'shallow'" in str(missing.value)
