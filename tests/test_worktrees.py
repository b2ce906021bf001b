"""Linked git worktrees (`git worktree add`): experiments work there exactly as in the main checkout,
and never touch the user's HEAD, branches or index (issue 17, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_experiments import PROJECT, exps


def worktree_state(tree: Path) -> dict[str, str]:
    """What no experiment command may change in a worktree: its HEAD, the branches, its index."""
    return {
        "HEAD": git(tree, "symbolic-ref", "-q", "HEAD"),
        "head": git(tree, "rev-parse", "HEAD"),
        "branches": git(tree, "for-each-ref", "refs/heads"),
        "cached": git(tree, "diff", "--cached"),
        "status": git(tree, "status", "--porcelain"),
    }


@pytest.fixture
def worktree(gen, xp, tmp_path) -> Path:
    """PROJECT committed in a main checkout, and a linked worktree of it on branch `side` (reproduced there)."""
    main = gen(PROJECT)
    tree = tmp_path / "side"
    git(main, "worktree", "add", "-q", "-b", "side", str(tree))
    xp("repro", cwd=tree)
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "reproduced on side")
    return tree


@pytest.mark.parametrize("how", [("--temp",), ()])
def test_exp_run_in_a_linked_worktree(worktree, xp, how):
    (worktree / "README.md").write_text("an unstaged edit\n")
    before = worktree_state(worktree)
    xp("exp", "run", *how, "-S", "train.lr=0.3", "-n", "wt-exp", cwd=worktree)
    after = worktree_state(worktree)
    if not how:  # A workspace run leaves its results in the workspace (as `dvc exp run` does); nothing staged.
        assert "M params.yaml" in after.pop("status") and before.pop("status")
    assert after == before
    assert set(exps(worktree)) == {"wt-exp"}
    shown = json.loads(xp("exp", "show", "--xp-json", cwd=worktree).stdout)
    text = json.dumps(shown)
    assert "wt-exp" in text and "0.8" in text  # acc = 0.5 + 0.3
    git(worktree, "rev-parse", "--verify", "side")
    assert "xp-baseline" not in git(worktree, "for-each-ref", "refs/heads")


def test_the_queue_in_a_linked_worktree(worktree, xp):
    before = worktree_state(worktree)
    xp("exp", "run", "--queue", "-S", "train.lr=0.2,0.4", "-n", "q", cwd=worktree)
    xp("exp", "run", "--run-all", "-j", "2", cwd=worktree)
    assert worktree_state(worktree) == before
    assert set(exps(worktree)) == {"q-1", "q-2"}
    assert "xp-baseline" not in git(worktree, "for-each-ref", "refs/heads")


def test_a_worktree_on_a_packed_branch_has_commits(worktree, xp):
    git(worktree, "pack-refs", "--all")
    xp("exp", "run", "--temp", "-S", "train.lr=0.25", "-n", "packed", cwd=worktree)
    assert set(exps(worktree)) == {"packed"}


@pytest.mark.asyncio
async def test_the_editor_hears_of_new_experiments_in_a_linked_worktree(worktree, xp):
    import time

    from pyhelper.server import protocol
    from tests.lsp_client import notification, request, started

    async with started(worktree) as client:
        await request(client, protocol.SHOW_EXPERIMENTS, protocol.ShowExperimentsParams())  # The first load.
        after = time.monotonic()
        xp("exp", "run", "--temp", "-S", "train.lr=0.35", "-n", "heard", cwd=worktree)
        await notification(client, protocol.EXPERIMENTS_CHANGED, after=after, timeout=30)
