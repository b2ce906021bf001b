"""Stars: `xp exp star` (git notes, beside tags and the note), `exp show --starred` and its ★, and
`xp/starExperiment` through a real client, whose rows then carry `starred` like the CLI's JSON."""

from __future__ import annotations

import json

import pytest

from pyhelper.server import protocol as p
from tests.conftest import git
from tests.lsp_client import THREE_EXPERIMENTS, reproduced_project, request, started


@pytest.fixture
def project(gen, xp):
    """PROJECT reproduced and committed, with three experiments made by the CLI."""
    return reproduced_project(gen, xp, experiments=THREE_EXPERIMENTS)


def _experiments(xp, project, *args) -> dict[str, dict]:
    rows = json.loads(xp("exp", "show", "--xp-json", *args, cwd=project).stdout)
    return {r["name"]: r for r in rows if r["kind"] == "experiment"}


def test_star_keeps_tags_and_note_and_filters_show(project, xp):
    xp("exp", "tag", "mid", "best", cwd=project)
    assert "'mid' is starred" in xp("exp", "star", "mid", cwd=project).stdout
    xp("exp", "note", "mid", "keep <this> “one”", cwd=project)
    rows = _experiments(xp, project)
    assert {name: r["starred"] for name, r in rows.items()} == {"low": False, "mid": True, "high": False}
    assert (rows["mid"]["tags"], rows["mid"]["note"]) == (["best"], "keep <this> “one”")
    assert list(_experiments(xp, project, "--starred")) == ["mid"]
    table = xp("exp", "show", "--starred", cwd=project).stdout
    assert "★ best" in table and "mid" in table and "high" not in table
    # The star lives in the experiment's git note, as JSON beside the tags and the note.
    stored = json.loads(git(project, "notes", "--ref", "xp", "show", rows["mid"]["rev"]))
    assert stored["starred"] is True and stored["tags"] == ["best"]
    xp("exp", "star", "mid", "--remove", cwd=project)
    assert _experiments(xp, project)["mid"]["starred"] is False
    assert _experiments(xp, project, "--starred") == {}


def test_unstarring_the_only_annotation_removes_the_note(project, xp):
    xp("exp", "star", "low", cwd=project)
    rev = _experiments(xp, project)["low"]["rev"]
    xp("exp", "star", "low", "--remove", cwd=project)
    assert rev not in git(project, "notes", "--ref", "xp", "list")


def test_star_of_an_unknown_experiment_is_one_line_with_a_fix(project, xp):
    result = xp("exp", "star", "nope", cwd=project, expect=2)
    assert result.stderr.count("\n") <= 2 and "nope" in result.stderr


@pytest.mark.asyncio
async def test_star_through_the_server_shows_in_rows(project, xp):
    async with started(project) as client:
        starred = await request(client, p.STAR_EXPERIMENT, p.StarExperimentParams(name="high"))
        assert starred.starred is True
        rows = (await request(client, p.SHOW_EXPERIMENTS, p.ShowExperimentsParams())).rows
        assert {r.name: r.starred for r in rows if r.kind == "experiment"} == {"low": False, "mid": False, "high": True}
        cli = json.loads(xp("exp", "show", "--xp-json", cwd=project).stdout)
        assert [p.converter().unstructure(r) for r in rows] == cli
        unstarred = await request(client, p.STAR_EXPERIMENT, p.StarExperimentParams(name="high", starred=False))
        assert unstarred.starred is False
