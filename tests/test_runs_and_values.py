"""The run-cache explored (`xp runs`), and params/metrics across revisions."""

from __future__ import annotations

import json

import pytest

from tests.conftest import git
from tests.test_repro import PIPELINE, calls, set_lr


@pytest.fixture
def project(gen):
    return gen(PIPELINE)


def runs_of(xp, repo, stage="train"):
    return json.loads(xp("runs", "list", "--stage", stage, "--json", cwd=repo).stdout)


def test_runs_list_shows_every_recorded_run_with_params_metrics_and_duration(project, xp):
    xp("repro", cwd=project)
    set_lr(project, "0.3")
    xp("repro", cwd=project)
    runs = runs_of(xp, project)
    assert [r["params"]["params.yaml"]["train.lr"] for r in runs] == [0.3, 0.1], "newest first"
    assert runs[0]["metrics"] == {"metrics.json:acc": 0.8, "metrics.json:rows": 3}
    assert runs[0]["duration"] > 0 and runs[0]["stage"] == "train"
    assert {o["path"] for o in runs[0]["outs"]} == {"model.txt", "metrics.json"}

    table = xp("runs", "list", cwd=project).stdout
    assert table.splitlines()[0].split()[:5] == ["ID", "Stage", "Finished", "Took", "Params"]
    assert runs[1]["id"] in table and "train.lr=0.1" in table and "acc=0.6" in table

    shown = xp("runs", "show", runs[1]["id"][:6], cwd=project).stdout
    assert f"Run {runs[1]['id']} of stage 'train'" in shown and "params.yaml:train.lr = 0.1" in shown
    assert json.loads(xp("runs", "show", runs[1]["id"], "--json", cwd=project).stdout)["id"] == runs[1]["id"]


def test_runs_restore_puts_outputs_and_params_back_and_updates_the_lock(project, xp):
    xp("repro", cwd=project)
    old = runs_of(xp, project)[0]["id"]
    set_lr(project, "0.3")
    xp("repro", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "lr 0.3")

    out = xp("runs", "restore", old, cwd=project)
    assert "dvc.lock updated" in out.stdout
    assert "  param   params.yaml:train.lr\n" in out.stdout  # The key as a user names it (no '+').
    assert (project / "model.txt").read_text() == "weights lr=0.1 rows=3\n"
    assert "lr: 0.1" in (project / "params.yaml").read_text()
    assert "# Data preparation." in (project / "params.yaml").read_text(), "comments survive"
    assert "Data and pipelines are up to date." in xp("status", cwd=project).stdout
    assert calls(project) == ["prepare", "train", "train"], "restoring runs nothing"


def test_runs_restore_refuses_to_overwrite_uncommitted_work_unless_forced(project, xp):
    xp("repro", cwd=project)
    old = runs_of(xp, project)[0]["id"]
    set_lr(project, "0.3")
    xp("repro", cwd=project)
    params_before = (project / "params.yaml").read_text()
    model_before = (project / "model.txt").read_text()

    refused = xp("runs", "restore", old, cwd=project, expect=2)
    assert "uncommitted changes" in refused.stderr and "params.yaml" in refused.stderr
    assert "--force" in refused.stderr
    assert (project / "params.yaml").read_text() == params_before, "nothing half written"
    assert (project / "model.txt").read_text() == model_before

    xp("runs", "restore", old, "--force", cwd=project)
    assert "lr: 0.1" in (project / "params.yaml").read_text()


def test_runs_with_unknown_or_empty_ids_are_clear_errors(project, xp):
    xp("repro", cwd=project)
    err = xp("runs", "show", "zzzz", cwd=project, expect=2).stderr
    assert err.startswith("error: no recorded run has the id 'zzzz'") and "xp runs list" in err


def test_params_and_metrics_diff_between_head_and_workspace(project, xp):
    xp("repro", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "baseline")
    assert "No params changed" in xp("params", "diff", cwd=project).stdout

    xp("repro", "-S", "train.lr=0.25", cwd=project)
    params = json.loads(xp("params", "diff", "--json", cwd=project).stdout)
    assert params == {"params.yaml": {"train.lr": {"old": 0.1, "new": 0.25, "diff": pytest.approx(0.15)}}}
    table = xp("params", "diff", cwd=project).stdout.splitlines()
    assert table[0].split() == ["Path", "Param", "HEAD", "workspace"]
    assert table[1].split() == ["params.yaml", "train.lr", "0.1", "0.25"]
    assert "train.layers" in xp("params", "diff", "--all", cwd=project).stdout

    metrics = json.loads(xp("metrics", "diff", "--json", cwd=project).stdout)
    assert metrics["metrics.json"]["acc"]["old"] == 0.6
    assert metrics["metrics.json"]["acc"]["new"] == 0.75
    assert metrics["metrics.json"]["acc"]["diff"] == pytest.approx(0.15)
    assert "rows" not in metrics["metrics.json"], "unchanged metrics are hidden without --all"
    md = xp("metrics", "diff", "--md", cwd=project).stdout
    assert md.startswith("| Path") and "| metrics.json | acc" in md

    shown = xp("metrics", "show", "--json", cwd=project).stdout
    assert json.loads(shown) == {"": {"data": {"metrics.json": {"data": {"acc": 0.75, "rows": 3}}}}}, "DVC's shape"
    head = json.loads(xp("metrics", "show", "--rev", "HEAD", "--json", cwd=project).stdout)
    assert head["HEAD"]["data"]["metrics.json"]["data"]["acc"] == 0.6


def test_metrics_of_cached_outputs_are_read_through_the_lock_at_a_revision(gen, xp):
    repo = gen({
        "dvc.yaml": """
            stages:
              score:
                cmd: python score.py ${f1}
                deps: [score.py]
                params: [f1]
                metrics: [score.json]
            """,
        "params.yaml": "f1: 0.5\n",
        "score.py": "import json, sys\njson.dump({'f1': float(sys.argv[1])}, open('score.json', 'w'))\n",
    })
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "score")
    assert "score.json" not in git(repo, "ls-files"), "a cached metrics file is not in git"
    xp("repro", "-S", "f1=0.7", cwd=repo)
    diff = json.loads(xp("metrics", "diff", "--json", cwd=repo).stdout)
    assert diff == {"score.json": {"f1": {"old": 0.5, "new": 0.7, "diff": pytest.approx(0.2)}}}


def test_a_broken_metrics_file_is_reported_on_its_own_row(gen, xp):
    repo = gen({
        "dvc.yaml": """
            metrics: [good.json, bad.json]
            stages: {}
            """,
        "good.json": '{"auc": 0.9}',
        "bad.json": '{"auc": ',
    })
    out = xp("metrics", "show", cwd=repo)
    assert "good.json" in out.stdout and "0.9" in out.stdout
    assert "bad.json" in out.stderr and "malformed" in out.stderr
