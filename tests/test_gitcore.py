"""pygit2's C core loaded alone (`core/git/gitcore.py`): same trees as git, no full pygit2 import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pyhelper.core.git.gitcore import native, open_repository
from pyhelper.core.git.gitrepo import snapshot_tree
from tests.conftest import GIT_ENV, git


def _git_snapshot(repo: Path) -> str:
    """What `git add -A && git write-tree` makes of the workspace, through a throw-away index."""
    env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(repo.parent / "scratch-index")}
    for args in (["read-tree", "HEAD"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_snapshot_matches_git_for_new_deleted_moved_linked_and_executable_files(gen):
    repo = gen({"a.txt": "a\n", "only/one.txt": "1\n", "deep/x/y.txt": "y\n", "deep/x/z.txt": "z\n",
                "becomes_dir": "file\n", ".gitignore": "ignored.bin\n"})
    (repo / "a.txt").write_text("changed\n")
    (repo / "only" / "one.txt").unlink()  # The folder's only file: the folder disappears.
    (repo / "deep" / "x" / "z.txt").unlink()
    (repo / "becomes_dir").unlink()
    (repo / "becomes_dir").mkdir()
    (repo / "becomes_dir" / "inside.txt").write_text("now a folder\n")
    (repo / "new" / "nested").mkdir(parents=True)
    (repo / "new" / "nested" / "file.txt").write_text("new\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    os.symlink("a.txt", repo / "link")
    (repo / "ignored.bin").write_bytes(b"\0" * 10)
    before = git(repo, "status", "--porcelain")

    git_repo = open_repository(str(repo))
    head = git_repo.head.peel(native().Commit)
    ours = snapshot_tree(git_repo, repo, head.tree)

    assert str(ours) == _git_snapshot(repo)
    assert git(repo, "status", "--porcelain") == before  # The user's index is untouched.


def test_experiment_commands_do_not_import_the_pygit2_package(gen, xp):
    repo = gen({"params.yaml": "lr: 1\n",
                "dvc.yaml": "stages:\n  s:\n    cmd: python -c \"print('ok')\"\n    params: [lr]\n"})
    xp("exp", "run", "-n", "first", "-S", "lr=2", cwd=repo)
    probe = ("import sys\nfrom pyhelper.cli import main\ncode = main(sys.argv[1:])\n"
             "print('FULL' if 'pygit2.enums' in sys.modules else 'CORE', file=sys.stderr)\nsys.exit(code)\n")
    for args in (["exp", "run", "-n", "second", "-S", "lr=3"], ["exp", "diff", "first", "second"],
                 ["exp", "branch", "second", "from-second"], ["exp", "apply", "first"],
                 ["exp", "run", "--queue", "-S", "lr=4,5"]):
        result = subprocess.run([sys.executable, "-c", probe, *args], cwd=repo, capture_output=True, text=True,
                                env={**os.environ, **GIT_ENV})
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip().endswith("CORE"), (args, result.stderr)
    assert (repo / "params.yaml").read_text() == "lr: 2\n"  # `apply first` brought its params back.
    assert git(repo, "rev-parse", "from-second") == git(repo, "rev-parse", "refs/exps/" + _exp_path(repo, "second"))


def test_full_pygit2_still_works_after_the_core_was_loaded_alone(gen):
    repo = gen({"a.txt": "a\n"})
    (repo / "a.txt").write_text("b\n")
    code = (
        "from pyhelper.core.git.gitcore import open_repository\n"
        f"core = open_repository({str(repo)!r})\n"
        "assert core.status() == {'a.txt': 256}\n"
        "import pygit2\n"
        f"status = pygit2.Repository({str(repo)!r}).status()\n"
        "assert status['a.txt'] is pygit2.enums.FileStatus.WT_MODIFIED, status\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def _exp_path(repo: Path, name: str) -> str:
    baseline = git(repo, "rev-parse", "HEAD").strip()
    return f"{baseline[:2]}/{baseline[2:]}/{name}"
