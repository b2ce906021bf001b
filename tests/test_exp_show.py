"""`xp exp show` and `xp exp diff`: the table a user compares experiments in."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from pyhelper.core.experiments import query
from pyhelper.core.experiments.save import save
from pyhelper.core.experiments.show import show
from pyhelper.core.project import Project
from pyhelper.errors import BadInput
from tests.conftest import GIT_ENV, git
from tests.test_experiments import exps, one_line_error, reproduced

T0 = int(time.time()) - 3600


def exp_with(repo: Path, name: str, *, lr: float, opt: str, metrics: str, when: int, params: str = "") -> str:
    """Saves an experiment whose params and metrics are as given, created at `when` (epoch seconds)."""
    (repo / "params.yaml").write_text(params or f"train:\n  lr: {lr}\n  opt: {opt}\n")
    (repo / "metrics.json").write_text(metrics)
    exp = save(Project(repo), name=name)
    # Give it a creation time of our choosing, as a commit made at another moment would have.
    env = {**os.environ, **GIT_ENV, "GIT_COMMITTER_DATE": f"{when} +0000", "GIT_AUTHOR_DATE": f"{when} +0000"}
    commit = subprocess.run(["git", "commit-tree", f"{exp.rev}^{{tree}}", "-p", "HEAD", "-m", name], cwd=repo,
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    git(repo, "update-ref", str(exp.ref), commit)
    return commit


@pytest.fixture
def table(gen, xp) -> Path:
    """Baseline lr 0.1/sgd/acc 0.6, and three experiments created in the order zeta, alpha, mid."""
    repo = reproduced(gen, xp)
    exp_with(repo, "zeta", lr=0.3, opt="sgd", metrics='{"acc": 0.8, "loss": 0.7}', when=T0)
    exp_with(repo, "alpha", lr=0.2, opt="adam", metrics='{"acc": 0.7, "loss": 0.8}', when=T0 + 60)
    exp_with(repo, "mid", lr=0.05, opt="sgd", metrics='{"acc": 0.5555555, "loss": 0.95}', when=T0 + 120)
    git(repo, "checkout", "-q", "--", "params.yaml", "metrics.json")
    xp("exp", "tag", "zeta", "best", cwd=repo)
    xp("exp", "note", "mid", "low lr, slow", cwd=repo)
    return repo


def names(rows) -> list[str]:
    return [r["name"] if isinstance(r, dict) else r.name for r in rows if
            (r["kind"] if isinstance(r, dict) else r.kind) == "experiment"]


def test_rows_are_grouped_by_baseline_with_experiments_by_time(table, xp):
    out = xp("exp", "show", cwd=table).stdout.splitlines()
    assert out[0].split()[:5] == ["Experiment", "rev", "Created", "State", "Tags"]
    assert [line.split()[0] for line in out[1:3]] == ["workspace", "main"]
    assert [line.split()[:2] for line in out[3:]] == [["├──", "zeta"], ["├──", "alpha"], ["└──", "mid"]]
    assert out[3].split()[2] == exps(table)["zeta"][:7] and "best" in out[3]

    rows = json.loads(xp("exp", "show", "--xp-json", cwd=table).stdout)
    head = git(table, "rev-parse", "HEAD").strip()
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("workspace", "workspace"), ("baseline", "main"), ("experiment", "zeta"), ("experiment", "alpha"),
        ("experiment", "mid")]
    zeta, mid = rows[2], rows[4]
    assert zeta["params"] == {"params.yaml": {"train.lr": 0.3, "train.opt": "sgd"}}
    assert zeta["metrics"] == {"metrics.json": {"acc": 0.8, "loss": 0.7}}
    assert (zeta["tags"], zeta["note"], zeta["status"]) == (["best"], "", "success")
    assert (zeta["rev"], zeta["baseline"], zeta["created"]) == (exps(table)["zeta"], head, T0)
    assert (mid["note"], mid["message"]) == ("low lr, slow", "mid")
    assert rows[0]["params"]["params.yaml"]["train.lr"] == 0.1 and rows[1]["rev"] == head


def test_baselines_all_branches_all_commits_n_and_rev(table, xp):
    git(table, "checkout", "-q", "-b", "other")
    git(table, "commit", "-q", "--allow-empty", "-m", "on other")
    xp("exp", "save", "-n", "on-other", cwd=table)
    git(table, "checkout", "-q", "main")
    git(table, "commit", "-q", "--allow-empty", "-m", "newer main")
    xp("exp", "save", "-n", "newest", cwd=table)

    def shown(*args: str) -> list[str]:
        return names(json.loads(xp("exp", "show", "--xp-json", *args, cwd=table).stdout))

    assert shown() == ["newest"]
    assert shown("-n", "2") == ["newest", "zeta", "alpha", "mid"]
    assert shown("-n", "50") == shown("-A") == ["newest", "zeta", "alpha", "mid"]
    assert shown("-a") == ["newest", "on-other"]
    assert shown("--rev", "other") == ["on-other"]
    assert shown("--rev", "HEAD~1", "--rev", "other") == ["zeta", "alpha", "mid", "on-other"]
    rows = json.loads(xp("exp", "show", "--xp-json", "--rev", "other", cwd=table).stdout)
    assert [r["kind"] for r in rows] == ["baseline", "experiment"], "no workspace row for another revision"
    assert "unknown revision 'nope'" in one_line_error(xp("exp", "show", "--rev", "nope", cwd=table, expect=2))
    assert "-n must be at least 1" in one_line_error(xp("exp", "show", "-n", "0", cwd=table, expect=2))


FILTERS = [
    ("acc>0.6", ["zeta", "alpha"]),
    ("acc>=0.7", ["zeta", "alpha"]),
    ("acc<0.7", ["mid"]),
    ("acc<=0.7", ["alpha", "mid"]),
    ("acc=0.7", ["alpha"]),
    ("acc==0.7", ["alpha"]),
    ("acc!=0.7", ["zeta", "mid"]),
    ("train.opt~AD", ["alpha"]),
    ("opt=sgd and lr>0.1", ["zeta"]),
    ("opt=adam or lr<0.1", ["alpha", "mid"]),
    ("opt=adam or lr<0.1 and acc>0.6", ["alpha"]),
    ("(opt=adam or lr<0.1) and acc<0.6", ["mid"]),
    ("metrics.acc>0.75", ["zeta"]),
    ("metrics.json:acc>0.75", ["zeta"]),
    ("params.train.lr<0.1", ["mid"]),
    ("tag=best", ["zeta"]),
    ("tag!=best", ["alpha", "mid"]),
    ("status=success", ["zeta", "alpha", "mid"]),
    ("note~'low lr'", ["mid"]),
    ("name=alpha", ["alpha"]),
    (f"created>{datetime.fromtimestamp(T0 + 30).isoformat()}", ["alpha", "mid"]),
    (f"created<={datetime.fromtimestamp(T0 + 60).isoformat()}", ["zeta", "alpha"]),
]

BAD_FILTERS = ["acc>", "acc>>1", "(acc>1", "nope>1", "acc>1 junk", "created>someday", "acc 1", "and acc>1",
               "accc>1"]


def test_every_filter_operator(table):
    rows = show(Project(table))
    columns = query.columns(rows)
    for expression, expected in FILTERS:
        keep = query.parse_filter(expression, columns)
        assert names([r for r in rows if r.kind != "experiment" or keep(r)]) == expected, expression
    for expression in BAD_FILTERS:
        with pytest.raises(BadInput):
            query.parse_filter(expression, columns)


def test_filter_on_the_command_line(table, xp):
    rows = json.loads(xp("exp", "show", "--xp-json", "--filter", "acc>0.6 and tag!=best", cwd=table).stdout)
    assert [r["name"] for r in rows] == ["workspace", "main", "alpha"], "baseline rows stay"
    assert "alpha" in xp("exp", "show", "--filter", "opt~ad", cwd=table).stdout
    line = one_line_error(xp("exp", "show", "--filter", "accc>1", cwd=table, expect=2))
    assert "no column named 'accc'" in line and "did you mean" in line
    assert "incomplete filter" in one_line_error(xp("exp", "show", "--filter", "acc>", cwd=table, expect=2))


def test_sort_only_changed_drop_keep_and_deps(table, xp):
    def shown(*args: str) -> list[str]:
        return names(json.loads(xp("exp", "show", "--xp-json", *args, cwd=table).stdout))

    assert shown("--sort-by", "acc", "--sort-order", "desc") == ["zeta", "alpha", "mid"]
    assert shown("--sort-by", "metrics.acc") == ["mid", "alpha", "zeta"]
    assert shown("--sort-by", "train.opt") == ["alpha", "zeta", "mid"], "strings sort too; ties keep time order"
    line = one_line_error(xp("exp", "show", "--sort-by", "acx", cwd=table, expect=2))
    assert "no column named 'acx'" in line and "did you mean 'acc'?" in line

    header = xp("exp", "show", "--deps", cwd=table).stdout.splitlines()[0].split()
    assert header[5:] == ["acc", "loss", "train.lr", "train.opt", "train.py"]
    md5 = json.loads(xp("exp", "show", "--deps", "--xp-json", cwd=table).stdout)[2]["deps"]["train.py"]
    assert len(md5) == 32 and md5 in xp("exp", "show", "--deps", cwd=table).stdout
    header = xp("exp", "show", "--deps", "--only-changed", cwd=table).stdout.splitlines()[0].split()
    assert "train.py" not in header and "acc" in header, "the dependency is the same everywhere"
    header = xp("exp", "show", "--drop", "loss|train", cwd=table).stdout.splitlines()[0].split()
    assert header[5:] == ["acc"]
    header = xp("exp", "show", "--drop", "train", "--keep", "opt", cwd=table).stdout.splitlines()[0].split()
    assert header[5:] == ["acc", "loss", "train.opt"]
    assert "invalid regular expression" in one_line_error(xp("exp", "show", "--drop", "(", cwd=table, expect=2))


def test_precision_csv_and_markdown(table, xp):
    assert "0.55556" in xp("exp", "show", cwd=table).stdout.splitlines()[-1]
    last = xp("exp", "show", "--precision", "2", cwd=table).stdout.splitlines()[-1]
    assert "0.56" in last and "0.55556" not in last
    assert "not a number of digits" in xp("exp", "show", "--precision", "-1", cwd=table, expect=2).stderr

    rows = list(csv.reader(io.StringIO(xp("exp", "show", "--csv", cwd=table).stdout)))
    assert rows[0][:5] == ["Experiment", "rev", "Created", "State", "Tags"]
    assert [r[0] for r in rows[1:]] == ["workspace", "main", "zeta", "alpha", "mid"], "plain names in CSV"
    assert datetime.fromisoformat(rows[3][2]).timestamp() == T0 and rows[3][4] == "best"
    assert rows[3][5:] == ["0.8", "0.7", "0.3", "sgd"]

    md = xp("exp", "show", "--md", cwd=table).stdout.splitlines()
    assert md[0].startswith("| Experiment") and set(md[1]) <= set("|-: ") and "zeta" in md[4]


def test_a_broken_metrics_or_params_file_in_one_experiment_is_an_error_cell(table, xp):
    exp_with(table, "broken", lr=0.4, opt="sgd", metrics='{"acc": 0.9,', when=T0 + 180)
    exp_with(table, "bad-params", lr=0, opt="", metrics='{"acc": 0.1, "loss": 1}', when=T0 + 240,
             params="train:\n  lr: [0.1\n")
    git(table, "checkout", "-q", "--", "params.yaml", "metrics.json")
    result = xp("exp", "show", cwd=table)
    lines = {line.split()[1]: line.split() for line in result.stdout.splitlines()[3:]}
    assert lines["broken"][6:] == ["error", "error", "0.4", "sgd"], "params still shown; metrics are errors"
    assert lines["bad-params"][6:] == ["0.1", "1", "error", "error"]
    assert lines["zeta"][6:] == ["0.8", "0.7", "0.3", "sgd"], "the other rows are fine"
    assert "warning: broken: metrics.json:" in result.stderr and "malformed JSON" in result.stderr
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=table).stdout)}
    assert rows["broken"]["metrics"] == {} and "malformed JSON" in rows["broken"]["errors"]["metrics.json"]
    assert "params.yaml:" in rows["bad-params"]["errors"]["params.yaml"] and rows["alpha"]["errors"] == {}
    assert names(json.loads(xp("exp", "show", "--xp-json", "--filter", "acc>0.5", cwd=table).stdout)) == \
        ["zeta", "alpha", "mid"]


def test_cached_metrics_are_read_through_the_lock_and_the_cache(gen, xp):
    repo = gen({
        "dvc.yaml": """
            stages:
              score:
                cmd: python score.py
                params: [lr]
                metrics: [score.json]
            """,
        "params.yaml": "lr: 0.1\n",
        "score.py": "import json\nlr = float(open('params.yaml').read().split()[1])\n"
                    "json.dump({'score': lr * 2}, open('score.json', 'w'))\n",
    })
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "repro")
    xp("exp", "run", "-S", "lr=0.3", "-n", "high", cwd=repo)
    assert "score.json" not in git(repo, "ls-tree", "-r", "--name-only", exps(repo)["high"]), "cached, not in git"
    (repo / "score.json").unlink()
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=repo).stdout)}
    assert rows["high"]["metrics"] == {"score.json": {"score": 0.6}}
    assert rows["main"]["metrics"] == {"score.json": {"score": 0.2}}
    assert rows["workspace"]["errors"] == {"score.json": "missing"}


def test_exp_diff_between_experiments_revisions_and_the_workspace(table, xp):
    out = xp("exp", "diff", "alpha", "zeta", cwd=table).stdout.splitlines()
    assert out[0].split() == ["Path", "Key", "alpha", "zeta", "Change"]
    assert [line.split() for line in out[1:]] == [
        ["metrics.json", "acc", "0.7", "0.8", "0.1"], ["metrics.json", "loss", "0.8", "0.7", "-0.1"],
        ["params.yaml", "train.lr", "0.2", "0.3", "0.1"], ["params.yaml", "train.opt", "adam", "sgd", "-"]]
    data = json.loads(xp("exp", "diff", "main", "mid", "--json", cwd=table).stdout)
    assert data["params"] == {"params.yaml": {"train.lr": {"old": 0.1, "new": 0.05, "diff": pytest.approx(-0.05)}}}
    assert data["metrics"]["metrics.json"]["acc"]["new"] == 0.5555555
    assert "train.opt" in xp("exp", "diff", "main", "mid", "--all", cwd=table).stdout, "--all: unchanged too"
    assert xp("exp", "diff", "main", "mid", "--md", cwd=table).stdout.startswith("| Path")
    assert "0.56" in xp("exp", "diff", "main", "mid", "--precision", "2", cwd=table).stdout

    # Defaults: HEAD against the workspace; one argument: that experiment against the workspace.
    assert "No params or metrics differ between HEAD and workspace." in xp("exp", "diff", cwd=table).stdout
    (table / "params.yaml").write_text("train:\n  lr: 0.3\n  opt: sgd\n")
    assert "train.lr" in xp("exp", "diff", cwd=table).stdout
    assert "train.lr" not in xp("exp", "diff", "zeta", cwd=table).stdout
    assert "acc" in xp("exp", "diff", exps(table)["alpha"][:8], "HEAD", cwd=table).stdout, "a commit id works"

    line = one_line_error(xp("exp", "diff", "alpah", "zeta", cwd=table, expect=2))
    assert "'alpah' is neither an experiment nor a git revision" in line and "did you mean 'alpha'?" in line

    exp_with(table, "broken", lr=0.4, opt="sgd", metrics="{oops", when=T0 + 180)
    result = xp("exp", "diff", "main", "broken", cwd=table)
    assert "warning: broken: metrics.json:" in result.stderr and "train.lr" in result.stdout
