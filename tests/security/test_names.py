"""Experiment names that would hide a revision, and names too long to be a git ref.

Experiments are looked up before revisions (`xp exp diff HEAD main`, `xp exp apply NAME`), so an
experiment called `HEAD`, `main` (a branch), `v1` (a tag) or a commit's id made those commands compare
experiments instead of the revisions typed. Such names are refused when the experiment is named, with
one line and the fix, before any stage runs; so is a name over 100 bytes (it fails as a git ref).
"""

from __future__ import annotations

import pytest

from tests.conftest import git
from tests.security.test_paths import PIPELINE
from tests.test_experiments import exps, one_line_error


@pytest.fixture
def repo(gen, tmp_path):
    """A project with a branch `dev`, a tag `v1`, a remote `origin` and two commits (HEAD~1 exists)."""
    repo = gen(PIPELINE)
    (repo / "params.yaml").write_text("lr: 0.2\n")
    git(repo, "commit", "-qam", "second")
    git(repo, "branch", "dev")
    git(repo, "tag", "v1")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "remote", "set-head", "origin", "main")
    return repo


def _names(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    first = git(repo, "rev-parse", "HEAD~1").strip()
    return [("HEAD", "git's HEAD"), ("ORIG_HEAD", "git's ORIG_HEAD"), ("main", "a branch"), ("dev", "a branch"),
            ("v1", "a tag"), ("origin", "a remote"), (head, "written as a commit id"),
            (head[:7], "a prefix of an object id"), (first[:7], "a prefix of an object id"),
            ("0" * 40, "written as a commit id"), ("workspace", "xp's name for the work tree"),
            ("best@3", "how a checkpoint is named")]


SHADOWS = ["HEAD", "ORIG_HEAD", "main", "dev", "v1", "origin", "head", "head7", "first7", "zeros", "workspace", "step"]


@pytest.mark.parametrize("which", range(len(SHADOWS)), ids=SHADOWS)
@pytest.mark.parametrize("verb", ["run", "run-temp", "save", "rename"])
def test_a_name_that_hides_a_revision_is_refused_before_anything_runs(repo, xp, verb, which):
    name, hidden = _names(repo)[which]
    if verb == "rename":
        xp("exp", "save", "-n", "mine", cwd=repo)
        result = xp("exp", "rename", "mine", name, cwd=repo, expect=2)
    else:
        args = {"run": ("run",), "run-temp": ("run", "--temp"), "save": ("save",)}[verb]
        result = xp("exp", *args, "-n", name, cwd=repo, expect=2)
    line = one_line_error(result)
    assert f"the experiment name '{name}' is also {hidden}" in line and "choose another name, e.g. 'exp-" in line
    assert name not in exps(repo)
    assert not (repo / "model.bin").exists(), "the stage ran"


def test_exp_diff_still_compares_the_revisions_typed(repo, xp):
    for name in ("HEAD", "main"):
        xp("exp", "save", "-n", name, cwd=repo, expect=2)
    out = xp("exp", "diff", "HEAD~1", "main", cwd=repo).stdout
    assert "0.1" in out and "0.2" in out


@pytest.mark.parametrize("verb", ["run", "save", "rename"])
def test_a_name_too_long_for_a_git_ref_is_refused_before_anything_runs(repo, xp, verb):
    """300 characters ran the stage, then failed writing the ref with a traceback."""
    name = "a" * 300
    if verb == "rename":
        xp("exp", "save", "-n", "mine", cwd=repo)
        result = xp("exp", "rename", "mine", name, cwd=repo, expect=2)
    else:
        result = xp("exp", verb, "-n", name, cwd=repo, expect=2)
    line = one_line_error(result)
    assert "is 300 characters long (at most 100: it becomes a git ref)" in line and "choose a shorter name" in line
    assert len(line) < 300
    assert not (repo / "model.bin").exists(), "the stage ran"


def test_names_up_to_the_limit_are_fine(repo, xp):
    xp("exp", "save", "-n", "a" * 100, cwd=repo)
    xp("exp", "save", "-n", "é" * 50, cwd=repo)  # 100 bytes of UTF-8.
    result = xp("exp", "save", "-n", "é" * 51, cwd=repo, expect=2)
    assert "is 102 bytes in UTF-8 long (at most 100" in one_line_error(result)
    xp("exp", "save", "-n", "deadbeef-run", cwd=repo)  # Hex-looking, but not all hex.
    xp("exp", "save", "-n", "main-2", cwd=repo)
    assert {"a" * 100, "é" * 50, "deadbeef-run", "main-2"} <= set(exps(repo))


def test_queue_names_are_checked_like_run_names(gen, xp):
    repo = gen({"dvc.yaml": "stages:\n  s:\n    cmd: echo hi\n    params: [lr]\n", "params.yaml": "lr: 1\n"})
    for bad, says in (("main", "is also a branch"), ("x" * 300, "characters long")):
        result = xp("exp", "run", "--queue", "-S", "lr=2", "-n", bad, cwd=repo, expect=2)
        assert says in result.stderr and "Traceback" not in result.stderr
    assert xp("queue", "status", "--json", cwd=repo).stdout.count('"name"') == 0


def test_pulled_experiments_named_like_a_revision_are_left_out_and_said(gen, xp, tmp_path):
    from tests.conftest import git

    repo = gen({"params.yaml": "lr: 1\n"})
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    head = git(repo, "rev-parse", "HEAD").strip()
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    commit = git(repo, "commit-tree", tree, "-p", "HEAD", "-m", "theirs").strip()
    for name in ("main", "HEAD", "fine"):
        git(repo, "push", "-q", str(remote), f"{commit}:refs/exps/{head[:2]}/{head[2:]}/{name}")
    result = xp("exp", "pull", str(remote), cwd=repo)
    assert "note: left out 2 experiment(s) whose names would shadow a revision" in result.stderr
    assert "HEAD, main" in result.stderr
    refs = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/exps/").split()
    assert [r.rsplit("/", 1)[1] for r in refs] == ["fine"]
