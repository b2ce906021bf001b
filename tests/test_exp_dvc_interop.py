"""Experiments are shared with DVC 3.67.1 itself (its own venv, see tests/test_dvc_interop.py):
`dvc exp show` lists what `xp exp run` made, and `xp exp show` lists what `dvc exp run` made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_dvc_interop import dvc, dvc_bin  # noqa: F401  (dvc_bin is a fixture)
from tests.test_experiments import PROJECT, exps

pytestmark = pytest.mark.dvc


@pytest.fixture
def dvc_project(gen, dvc_bin, xp) -> Path:  # noqa: F811
    repo = gen(PROJECT)
    dvc(dvc_bin, repo, "init", "-q")
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    return repo


def test_dvc_exp_show_lists_an_experiment_made_by_xp(dvc_project, dvc_bin, xp):  # noqa: F811
    xp("exp", "run", "-S", "train.lr=0.3", "-S", "train.opt=adam", "-n", "by-xp", cwd=dvc_project)
    data = json.loads(dvc(dvc_bin, dvc_project, "exp", "show", "--json"))
    head = git(dvc_project, "rev-parse", "HEAD").strip()
    baseline = [entry for entry in data if entry["rev"] == head][0]
    revs = [rev for exp in baseline["experiments"] for rev in exp["revs"]]
    assert [r["name"] for r in revs] == ["by-xp"]
    assert revs[0]["rev"] == exps(dvc_project)["by-xp"]
    assert revs[0]["data"]["params"]["params.yaml"]["data"]["train"] == {"lr": 0.3, "opt": "adam"}
    assert revs[0]["data"]["metrics"]["metrics.json"]["data"] == {"acc": 0.8, "loss": 0.7}


def test_xp_exp_show_lists_an_experiment_made_by_dvc(dvc_project, dvc_bin, xp):  # noqa: F811
    dvc(dvc_bin, dvc_project, "exp", "run", "-S", "train.lr=0.25", "-n", "by-dvc", "-q")
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=dvc_project).stdout)}
    exp = rows["by-dvc"]
    assert exp["kind"] == "experiment" and exp["rev"] == exps(dvc_project)["by-dvc"]
    assert exp["params"] == {"params.yaml": {"train.lr": 0.25, "train.opt": "sgd"}}
    assert exp["metrics"] == {"metrics.json": {"acc": 0.75, "loss": 0.75}}
    assert exp["errors"] == {}
    # DVC's own bookkeeping refs (refs/exps/exec/…) are not experiments.
    assert [r["kind"] for r in rows.values()] == ["workspace", "baseline", "experiment"]

    # And the experiment's cached output comes back through xp from DVC's cache.
    git(dvc_project, "checkout", "-q", "--", ".")
    (dvc_project / "model.bin").unlink()
    xp("exp", "apply", "by-dvc", cwd=dvc_project)
    assert (dvc_project / "model.bin").read_text() == "model lr=0.25 opt=sgd\n"
