"""`xp demo`: the first thing a new user runs."""

from __future__ import annotations

import json

from tests.conftest import git


def test_demo_creates_a_committed_project_reproduces_it_and_prints_metrics(tmp_path, xp):
    out = xp("demo", "proj", cwd=tmp_path)
    repo = tmp_path / "proj"
    assert "Created the demo project" in out.stdout
    assert "accuracy" in out.stdout and "Data and pipelines" not in out.stdout
    metrics = json.loads((repo / "metrics.json").read_text())
    assert 0.5 < metrics["accuracy"] <= 1.0
    assert (repo / "train_log.tsv").read_text().splitlines()[0].split("\t")[0] == "epoch"
    log = git(repo, "log", "--format=%s")
    assert len(log.splitlines()) == 2, "the project commit and the reproduced results"
    assert git(repo, "status", "--porcelain") == "", "the demo leaves a clean work tree"
    assert "Data and pipelines are up to date." in xp("status", cwd=repo).stdout

    # Three experiments ran in private copies and are compared in a table.
    assert sorted(xp("exp", "list", "--name-only", cwd=repo).stdout.split()) == [
        "higher-lr", "longer", "sweep-1", "sweep-2", "sweep-3", "sweep-4", "wider"]
    assert "Queue done" in out.stdout and "4 succeeded" in out.stdout
    queue = json.loads(xp("queue", "status", "--json", cwd=repo).stdout)
    assert sorted(e["status"] for e in queue["entries"]) == ["queued"] * 2 + ["success"] * 4
    assert "├── next-1" in out.stdout and "queued" in out.stdout  # Left for the user to start.
    assert "├── higher-lr" in out.stdout and "└── " in out.stdout and "train.epochs" in out.stdout
    shown = json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)
    longer = next(r for r in shown if r["name"] == "longer")
    assert longer["params"]["params.yaml"]["train.epochs"] == 30 and longer["metrics"]["metrics.json"]["accuracy"] > 0

    # The walk-through the README gives works as written.
    changed = xp("repro", "-S", "train.epochs=25", cwd=repo).stdout
    assert "Running stage 'train'" in changed and "Running stage 'prepare'" not in changed
    assert "train.epochs" in xp("params", "diff", cwd=repo).stdout
    assert "accuracy" in xp("metrics", "diff", "--all", cwd=repo).stdout
    back = xp("repro", "-S", "train.epochs=10", cwd=repo).stdout
    assert back.count("Restored stage") == 2 and "Running stage" not in back


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path, xp):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    err = xp("demo", "taken", cwd=tmp_path, expect=2).stderr
    assert "not empty" in err and "taken" in err
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]


def test_the_demos_origin_takes_a_push_and_a_teammate_pulls_from_it(tmp_path, xp):
    xp("demo", "proj", cwd=tmp_path)
    repo = tmp_path / "proj"
    assert git(repo, "status", "--porcelain") == "", "origin.git is ignored"
    out = xp("exp", "push", "origin", "higher-lr", cwd=repo).stdout
    assert "Pushed 1 experiment(s) to 'origin'" in out
    git(tmp_path, "clone", "-q", str(repo / "origin.git"), "teammate")
    pulled = xp("exp", "pull", "origin", cwd=tmp_path / "teammate").stdout
    assert "higher-lr" in xp("exp", "list", "--name-only", cwd=tmp_path / "teammate").stdout, pulled
    # The outputs travelled through the demo's remote storage: the teammate applies and has the model.
    assert "pushed to remote 'storage'" in out and "fetched from remote 'storage'" in pulled
    applied = xp("exp", "apply", "higher-lr", cwd=tmp_path / "teammate")
    assert "no longer in the cache" not in applied.stderr
    xp("exp", "apply", "higher-lr", cwd=repo)
    model = "model/model.json"
    assert (tmp_path / "teammate" / model).read_bytes() == (repo / model).read_bytes()
    assert "Running stage" not in xp("repro", cwd=tmp_path / "teammate").stdout, "nothing rebuilt"
