"""`xp exp run --temp` (a private work tree; the workspace untouched) and `xp exp clean`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_repro import PIPELINE, calls


def digest(repo: Path) -> dict[str, str]:
    """Every file of the work tree (outside .git and .xp) and its md5."""
    return {
        p.relative_to(repo).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts and ".xp" not in p.relative_to(repo).parts
    }


@pytest.fixture
def project(gen, xp):
    repo = gen(PIPELINE)
    xp("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "reproduced")
    return repo


def test_a_temp_run_leaves_the_workspace_byte_identical_and_records_everything(project, xp):
    (project / "scratch.txt").write_text("untracked work\n")
    (project / "prep.py").write_text((project / "prep.py").read_text() + "# tweaked\n")
    before = digest(project)
    index_before = (project / ".git" / "index").read_bytes()

    out = xp("exp", "run", "--temp", "-S", "train.lr=0.4", "-n", "tmp-lr", cwd=project)
    assert "Ran experiment 'tmp-lr'" in out.stdout
    assert digest(project) == before, "the workspace must be untouched"
    assert (project / ".git" / "index").read_bytes() == index_before
    assert not list((project / ".xp" / "tmp").glob("ws-*")), "the private work tree is removed"

    ref = git(project, "for-each-ref", "--format=%(refname)", "refs/exps").strip()
    files = git(project, "ls-tree", "-r", "--name-only", ref).split()
    assert "scratch.txt" in files, "untracked, not-ignored files are part of the experiment"
    assert "# tweaked" in git(project, "show", f"{ref}:prep.py")
    assert "lr: 0.4" in git(project, "show", f"{ref}:params.yaml")
    assert "model.txt" not in files, "cached outputs stay out of git"
    # The stages ran in .xp/tmp/ws-*/, so their `../calls.log` is .xp/tmp/calls.log.
    assert calls(project / ".xp" / "tmp" / "ws") == ["prepare", "train"], "prep.py changed: both stages ran"


def test_a_temp_run_reuses_cached_outputs_of_the_workspace(project, xp):
    xp("exp", "run", "--temp", "-S", "train.lr=0.3", cwd=project)
    assert calls(project / ".xp" / "tmp" / "ws") == ["train"], "prepare is up to date: its outputs come from the cache"


def test_a_failed_temp_run_keeps_its_work_tree_and_clean_removes_it(project, xp):
    (project / "train.py").write_text("import sys\nprint('boom'); sys.exit(3)\n")
    failed = xp("exp", "run", "--temp", cwd=project, expect=1)
    assert "exited with code 3" in failed.stderr and ".xp/tmp/" in failed.stderr
    assert git(project, "for-each-ref", "refs/exps") == ""
    leftovers = [p for p in (project / ".xp" / "tmp").glob("ws-*") if p.is_dir()]
    assert len(leftovers) == 1 and (leftovers[0] / "train.py").is_file()

    assert "Would remove 1 private work tree(s)" in xp("exp", "clean", "--dry", cwd=project).stdout
    assert leftovers[0].exists()
    xp("exp", "clean", cwd=project)
    assert not leftovers[0].exists()


def test_clean_drops_only_cache_objects_nothing_refers_to(project, xp):
    cache = project / ".xp" / "cache" / "files" / "md5"
    orphan = cache / "ff" / ("0" * 30)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("nobody refers to me")
    kept = {p for p in cache.rglob("*") if p.is_file() and p != orphan}
    out = xp("exp", "clean", cwd=project).stdout
    assert "1 cache object(s)" in out
    assert not orphan.exists()
    assert all(p.exists() for p in kept)
    (project / "model.txt").unlink()
    assert "Restored stage 'train'" in xp("repro", cwd=project).stdout


def dead_pid() -> int:
    """The id of a process that has ended (what a kill -9 leaves behind)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_clean_removes_what_killed_copies_left_in_the_cache_and_keeps_living_ones(project, xp):
    import json
    import os
    import time

    cache = project / ".xp" / "cache"
    dead = dead_pid()
    killed_checkpoint = cache / f".tmp-xp-checkpoint-{dead}-a1b2c3"  # 40 MB in the real case
    killed_checkpoint.write_bytes(b"x" * 300_000)
    killed_object = cache / "files" / "md5" / "ab" / f".tmp-xp-{dead}-q9w8e7"
    killed_object.parent.mkdir(parents=True, exist_ok=True)
    killed_object.write_bytes(b"y" * 1000)
    old_unnamed = cache / ".tmp-xp-checkpoint-zz11yy"  # written before temp names carried their pid
    old_unnamed.write_bytes(b"z" * 10)
    os.utime(old_unnamed, (time.time() - 7200, time.time() - 7200))
    living = [cache / f".tmp-xp-checkpoint-{os.getpid()}-busy",  # a copy still being written
              cache / "files" / "md5" / "ab" / f".tmp-xp-{os.getpid()}-busy",
              cache / ".tmp-xp-checkpoint-fresh1"]  # no pid, but new: maybe a run started a minute ago
    for path in living:
        path.write_bytes(b"still writing")

    dry = json.loads(xp("exp", "clean", "--dry", "--json", cwd=project).stdout)
    assert dry["tempFiles"] == 3 and dry["tempBytes"] == 301_010 and killed_checkpoint.exists()
    out = xp("exp", "clean", cwd=project).stdout
    assert "3 unfinished temporary file(s) (0.3 MB)" in out, out
    assert not killed_checkpoint.exists() and not killed_object.exists() and not old_unnamed.exists()
    assert all(path.exists() for path in living), "a copy in progress is never pulled from under its writer"
    assert "up to date" in xp("status", cwd=project).stdout, "the cache objects themselves untouched"


def test_clean_skips_a_commit_whose_dvc_lock_is_a_folder(project, xp):
    # A branch where `dvc.lock` is a folder: it records no outputs, and clean must not trip over it.
    git(project, "checkout", "-q", "-b", "odd")
    git(project, "rm", "-q", "dvc.lock")
    (project / "dvc.lock").mkdir()
    (project / "dvc.lock" / "note.txt").write_text("not a lock file\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "a folder named dvc.lock")
    git(project, "checkout", "-q", "main")
    out = xp("exp", "clean", cwd=project).stdout
    assert "0 cache object(s)" in out
