"""`xp exp apply` never loses work; `xp exp push/pull` share experiments, tags and notes through a
bare repository on disk."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_experiments import exps, git_state, one_line_error, reproduced


def digest(repo: Path) -> dict[str, str]:
    """Every file of the work tree (outside .git and .xp) and its md5."""
    return {
        p.relative_to(repo).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and not {".git", ".xp"} & set(p.relative_to(repo).parts)
    }


@pytest.fixture
def project(gen, xp) -> Path:
    return reproduced(gen, xp)


def test_apply_brings_files_and_cached_outputs_back_and_leaves_head_alone(project, xp):
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "a", cwd=project)
    xp("exp", "run", "-S", "train.lr=0.5", "-n", "b", cwd=project)
    before = git_state(project)

    # The workspace holds exactly what experiment `b` recorded, so replacing it loses nothing.
    out = xp("exp", "apply", "a", cwd=project).stdout
    assert "Applied experiment 'a'" in out and "1 output(s) checked out from the cache" in out
    assert "lr: 0.3" in (project / "params.yaml").read_text()
    assert json.loads((project / "metrics.json").read_text())["acc"] == 0.8
    assert (project / "model.bin").read_text() == "model lr=0.3 opt=sgd\n", "the cached output is back"
    assert git_state(project) == before, "HEAD, branches, index untouched"
    assert "Data and pipelines are up to date." in xp("status", cwd=project).stdout

    (project / "model.bin").unlink()
    data = json.loads(xp("exp", "apply", "b", "--json", cwd=project).stdout)
    assert data["outputs"] == ["model.bin"] and data["savedAs"] is None
    assert set(data["written"]) == {"dvc.lock", "metrics.json", "params.yaml"}
    assert (project / "model.bin").read_text() == "model lr=0.5 opt=sgd\n"

    # A deletion recorded in the experiment is applied too.
    git(project, "checkout", "-q", "--", ".")
    (project / "extra.txt").unlink()
    xp("exp", "save", "-n", "no-extra", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    assert (project / "extra.txt").is_file()
    assert json.loads(xp("exp", "apply", "no-extra", "--json", cwd=project).stdout)["deleted"] == ["extra.txt"]
    assert not (project / "extra.txt").exists()

    line = one_line_error(xp("exp", "apply", "no-extr", cwd=project, expect=2))
    assert "no experiment named 'no-extr'" in line and "did you mean 'no-extra'?" in line


def test_apply_refuses_to_overwrite_uncommitted_work_and_force_keeps_it_recoverable(project, xp):
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "a", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    xp("repro", cwd=project)  # Back to HEAD's results (model.bin from the run-cache).
    # Uncommitted work no experiment holds: an edited param, an edited file, a new file.
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.1", "lr: 0.7"))
    (project / "README.md").write_text("My unsaved notes.\n")
    (project / "notes.txt").write_text("untracked\n")
    before, refs = digest(project), exps(project)

    result = xp("exp", "apply", "a", cwd=project, expect=2)
    line = one_line_error(result)
    assert "would overwrite uncommitted changes in:" in line and "params.yaml" in line and "README.md" in line
    assert "--force" in line
    assert digest(project) == before and exps(project) == refs, "nothing changed, nothing lost"

    out = xp("exp", "apply", "a", "--force", cwd=project).stdout
    saved = re.search(r"Saved the workspace first as experiment '([^']+)'", out).group(1)
    assert f"xp exp apply {saved}" in out
    assert set(exps(project)) == {"a", saved}
    assert "lr: 0.3" in params.read_text() and (project / "model.bin").read_text() == "model lr=0.3 opt=sgd\n"
    assert (project / "notes.txt").read_text() == "untracked\n", "files the experiment lacks are left alone"

    # Applying the saved experiment brings the old workspace back, byte for byte.
    xp("exp", "apply", saved, cwd=project)
    assert digest(project) == before


def test_apply_outside_a_baseline_of_head_and_missing_cache_objects(project, xp):
    xp("exp", "run", "-S", "train.lr=0.2", "-n", "old", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    git(project, "commit", "-q", "--allow-empty", "-m", "newer")
    before = git_state(project)
    xp("exp", "apply", "old", cwd=project)
    assert "lr: 0.2" in (project / "params.yaml").read_text() and git_state(project) == before

    git(project, "checkout", "-q", "--", ".")
    xp("exp", "run", "-S", "train.lr=0.4", "-n", "uncached", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    xp("repro", cwd=project)
    (project / ".xp" / "cache").rename(project / ".xp" / "cache-gone")
    result = xp("exp", "apply", "uncached", cwd=project)
    assert "output 'model.bin' is no longer in the cache" in result.stderr and "xp repro" in result.stderr
    assert "lr: 0.4" in (project / "params.yaml").read_text()


@pytest.fixture
def remote(project, tmp_path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(project, "remote", "add", "origin", str(bare))
    git(project, "push", "-q", "origin", "main")
    return bare


def test_push_and_pull_through_a_bare_repository(project, remote, tmp_path, xp):
    xp("exp", "run", "-S", "train.lr=0.3", "-n", "shared", cwd=project)
    xp("exp", "save", "-n", "second", cwd=project)
    xp("exp", "tag", "shared", "best", cwd=project)
    xp("exp", "note", "shared", "try this one", cwd=project)
    assert "Pushed 2 experiment(s) to 'origin'" in xp("exp", "push", "origin", cwd=project).stdout
    on_remote = git(remote, "for-each-ref", "--format=%(refname) %(objectname)")
    assert all(f"{ref} {sha}" in on_remote for ref, sha in [
        (r.split()[0], r.split()[1]) for r in git(project, "for-each-ref", "--format=%(refname) %(objectname)",
                                                    "refs/exps", "refs/notes/xp").splitlines()])

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    assert "Pulled 2 experiment(s)" in xp("exp", "pull", "origin", cwd=clone).stdout
    assert exps(clone) == exps(project)
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=clone).stdout)}
    assert (rows["shared"]["tags"], rows["shared"]["note"]) == (["best"], "try this one")
    assert rows["shared"]["params"]["params.yaml"]["train.lr"] == 0.3
    assert rows["shared"]["metrics"]["metrics.json"]["acc"] == 0.8

    # Tags added on both sides meet: pushing merges the remote's notes first.
    xp("exp", "tag", "second", "from-clone", cwd=clone)
    xp("exp", "push", "origin", "second", cwd=clone)
    xp("exp", "tag", "shared", "from-origin", cwd=project)
    xp("exp", "push", "origin", cwd=project)
    xp("exp", "pull", "origin", cwd=clone)
    rows = {r["name"]: r for r in json.loads(xp("exp", "show", "--xp-json", cwd=clone).stdout)}
    assert rows["shared"]["tags"] == ["best", "from-origin"] and rows["second"]["tags"] == ["from-clone"]

    # Pulling one experiment by name; an unknown name is an error.
    xp("exp", "remove", "-A", cwd=clone)
    assert "Pulled 1 experiment(s)" in xp("exp", "pull", "origin", "second", cwd=clone).stdout
    assert set(exps(clone)) == {"second"}
    assert "has no experiment named nope" in one_line_error(xp("exp", "pull", "origin", "nope", cwd=clone,
                                                                 expect=2))


def test_a_remote_that_rejects_a_push_gives_one_clear_line(project, remote, tmp_path, xp):
    xp("exp", "save", "-n", "same-name", cwd=project)
    xp("exp", "push", "origin", cwd=project)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    (clone / "README.md").write_text("different content\n")
    xp("exp", "save", "-n", "same-name", cwd=clone)
    ref = git(project, "for-each-ref", "--format=%(refname)", "refs/exps").strip()
    theirs = git(remote, "rev-parse", ref)

    result = xp("exp", "push", "origin", cwd=clone, expect=None)
    assert result.returncode != 0
    line = one_line_error(result)
    assert "already has a different experiment named 'same-name'" in line and "xp exp rename" in line
    assert git(remote, "rev-parse", ref) == theirs, "the remote's experiment is untouched"

    result = xp("exp", "pull", "origin", cwd=clone, expect=None)
    assert result.returncode != 0
    assert "you already have a different experiment named 'same-name'" in one_line_error(result)

    result = xp("exp", "push", str(tmp_path / "nowhere"), cwd=clone, expect=None)
    assert result.returncode != 0 and "does not appear to be a git repository" in one_line_error(result)
    result = xp("exp", "pull", "nowhere", cwd=clone, expect=None)
    assert result.returncode != 0 and "failed" in one_line_error(result)


def test_a_remote_whose_hook_refuses_experiments_says_why(project, tmp_path, xp):
    bare = tmp_path / "guarded.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no experiments here, use the team remote' >&2\nexit 1\n")
    hook.chmod(0o755)
    xp("exp", "save", "-n", "refused", cwd=project)
    result = xp("exp", "push", str(bare), cwd=project, expect=None)
    assert result.returncode != 0
    line = one_line_error(result)
    assert "refused experiment 'refused'" in line and "no experiments here, use the team remote" in line
    assert git(bare, "for-each-ref") == ""


def test_push_on_a_terminal_shows_gits_progress_on_one_line(project, remote, xp):
    """On a terminal `xp exp push` redraws git's progress on stderr; piped (the other tests), it prints none."""
    import os
    import pty
    import subprocess
    import sys

    xp("exp", "run", "-S", "train.lr=0.4", "-n", "seen", cwd=project)
    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "pyhelper", "exp", "push", "origin"], cwd=project,
                          stdout=subprocess.PIPE, stderr=follower, text=True, timeout=60)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # The terminal's other end is closed: all read.
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert done.returncode == 0 and "Pushed 1 experiment(s)" in done.stdout
    text = shown.decode()
    assert "\rWriting objects: 100%" in text and "done." in text, text
