"""`.xp/` is xp's machine-local state: whatever recreates it keeps it out of git, and no experiment
commit ever holds it (issue 17, item 4)."""

from __future__ import annotations

import shutil

from tests.conftest import git
from tests.test_experiments import PROJECT, exps, reproduced


def tree_paths(repo, rev: str) -> list[str]:
    """Every path in a commit's tree."""
    return git(repo, "ls-tree", "-r", "--name-only", rev).split()


def test_xp_deleted_between_runs_is_recreated_ignored(gen, xp):
    repo = reproduced(gen, xp)
    shutil.rmtree(repo / ".xp")
    xp("exp", "run", "-S", "train.lr=0.2", "-n", "after-rm", cwd=repo)
    assert (repo / ".xp" / ".gitignore").read_text() == "*\n"
    assert not [p for p in tree_paths(repo, exps(repo)["after-rm"]) if p.startswith(".xp")]
    assert ".xp" not in git(repo, "status", "--porcelain")


def test_xp_deleted_during_a_run_never_lands_in_the_experiment(gen, xp):
    # The stage itself deletes .xp/ (as a user's `rm -rf .xp` in another terminal would), then writes below it.
    files = dict(PROJECT)
    files["dvc.yaml"] = PROJECT["dvc.yaml"].replace("cmd: python train.py",
                                                    "cmd: rm -rf .xp && mkdir -p .xp/cache && echo x > .xp/cache/junk "
                                                    "&& python train.py")
    repo = gen(files)
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "during", cwd=repo)
    assert not [p for p in tree_paths(repo, exps(repo)["during"]) if p.startswith(".xp")]
    xp("exp", "run", "--temp", "-S", "train.lr=0.4", "-n", "during-temp", cwd=repo)
    assert not [p for p in tree_paths(repo, exps(repo)["during-temp"]) if p.startswith(".xp")]
    assert (repo / ".xp" / ".gitignore").is_file()
